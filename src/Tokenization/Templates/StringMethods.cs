using System.Text;

namespace InferenceServer.Tokenization.Templates;

/// <summary>The Python <c>str</c> methods templates call (<c>content.strip()</c>, <c>.split('&lt;/think&gt;')</c>, …).</summary>
internal static class StringMethods
{
    /// <summary>The bound method <c>s.name</c>, or null when str has no such (supported) method.</summary>
    public static BuiltinFunction? Bind(string s, string name)
    {
        Func<Arguments, object?>? body = name switch
        {
            "strip" => a => PyText.Strip(s, OptString(a, 0, "chars")),
            "lstrip" => a => PyText.LStrip(s, OptString(a, 0, "chars")),
            "rstrip" => a => PyText.RStrip(s, OptString(a, 0, "chars")),
            "split" => a => PyText.Split(s, OptString(a, 0, "sep"), OptLong(a, 1, "maxsplit") ?? -1),
            "rsplit" => a => PyText.RSplit(s, OptString(a, 0, "sep"), OptLong(a, 1, "maxsplit") ?? -1),
            "splitlines" => a => SplitLines(s, PyOps.Truthy(a.Get(0, "keepends", false))),
            "startswith" => a => Affix(s, a, "startswith", (x, p) => x.StartsWith(p, StringComparison.Ordinal)),
            "endswith" => a => Affix(s, a, "endswith", (x, p) => x.EndsWith(p, StringComparison.Ordinal)),
            "upper" => _ => PyText.Upper(s),
            "lower" or "casefold" => _ => PyText.Lower(s),
            "title" => _ => PyText.Title(s),
            "capitalize" => _ => PyText.Capitalize(s),
            "swapcase" => _ => new string(s.Select(c => char.IsUpper(c) ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c)).ToArray()),
            "replace" => a => Replace(s, Str(a, 0, "old"), Str(a, 1, "new"), OptLong(a, 2, "count") ?? -1),
            "find" => a => (long)Find(s, Str(a, 0, "sub"), fromEnd: false),
            "rfind" => a => (long)Find(s, Str(a, 0, "sub"), fromEnd: true),
            "index" => a => Find(s, Str(a, 0, "sub"), fromEnd: false) is var i and >= 0 ? (long)i : throw new TemplateRuntimeException("substring not found"),
            "rindex" => a => Find(s, Str(a, 0, "sub"), fromEnd: true) is var i and >= 0 ? (long)i : throw new TemplateRuntimeException("substring not found"),
            "count" => a => (long)Count(s, Str(a, 0, "sub")),
            "join" => a => string.Join(s, PyOps.Iterate(a.Get(0, "iterable")).Select(x => x as string ?? throw new TemplateRuntimeException($"sequence item: expected str instance, {PyRepr.TypeName(x)} found"))),
            "isdigit" or "isnumeric" or "isdecimal" => _ => s.Length > 0 && s.All(char.IsDigit),
            "isalpha" => _ => s.Length > 0 && s.All(char.IsLetter),
            "isalnum" => _ => s.Length > 0 && s.All(char.IsLetterOrDigit),
            "isspace" => _ => s.Length > 0 && s.All(PyText.IsSpace),
            "isupper" => _ => s.Any(char.IsLetter) && !s.Any(char.IsLower),
            "islower" => _ => s.Any(char.IsLetter) && !s.Any(char.IsUpper),
            "removeprefix" => a => Str(a, 0, "prefix") is var p && s.StartsWith(p, StringComparison.Ordinal) ? s[p.Length..] : s,
            "removesuffix" => a => Str(a, 0, "suffix") is var p && p.Length > 0 && s.EndsWith(p, StringComparison.Ordinal) ? s[..^p.Length] : s,
            "partition" => a => Partition(s, Str(a, 0, "sep"), fromEnd: false),
            "rpartition" => a => Partition(s, Str(a, 0, "sep"), fromEnd: true),
            "center" => a => Pad(s, a, (n, f) => s.PadLeft(s.Length + (n - s.Length) / 2 + ((n - s.Length) & n & 1), f).PadRight(n, f)),
            "ljust" => a => Pad(s, a, (n, f) => s.PadRight(n, f)),
            "rjust" => a => Pad(s, a, (n, f) => s.PadLeft(n, f)),
            "zfill" => a => ZFill(s, (int)(OptLong(a, 0, "width") ?? 0)),
            "format" => a => Format(s, a),
            _ => null,
        };
        return body is null ? null : new BuiltinFunction(name, (_, args) => body(args));
    }

    private static string Str(Arguments a, int i, string name) => a.Get(i, name, Undefined.WithHint($"missing argument {name}")) switch
    {
        string s => s,
        Undefined u => throw u.Fail(),
        var v => throw new TemplateRuntimeException($"must be str, not {PyRepr.TypeName(v)}"),
    };

    private static string? OptString(Arguments a, int i, string name) => a.Get(i, name) switch
    {
        null => null,
        string s => s,
        var v => throw new TemplateRuntimeException($"must be str or None, not {PyRepr.TypeName(v)}"),
    };

    private static long? OptLong(Arguments a, int i, string name) => a.Get(i, name) switch
    {
        null => null,
        long l => l,
        bool b => b ? 1 : 0,
        var v => throw new TemplateRuntimeException($"'{PyRepr.TypeName(v)}' object cannot be interpreted as an integer"),
    };

    private static bool Affix(string s, Arguments a, string method, Func<string, string, bool> test)
    {
        var start = (int)Math.Clamp(OptLong(a, 1, "start") ?? 0, 0, s.Length);
        var subject = s[start..];
        return a.Get(0, "prefix") switch
        {
            string p => test(subject, p),
            PyTuple t => t.Any(x => x is string p && test(subject, p)),
            var v => throw new TemplateRuntimeException($"{method} first arg must be str or a tuple of str, not {PyRepr.TypeName(v)}"),
        };
    }

    private static string Replace(string s, string old, string replacement, long count)
    {
        if (count < 0 && old.Length > 0) return s.Replace(old, replacement, StringComparison.Ordinal);
        var sb = new StringBuilder();
        var done = 0L;
        if (old.Length == 0)
        {
            // Python inserts the replacement before every character and at the end.
            foreach (var ch in PyText.Chars(s))
            {
                if (count < 0 || done < count)
                {
                    sb.Append(replacement);
                    done++;
                }

                sb.Append((string)ch!);
            }

            if (count < 0 || done < count) sb.Append(replacement);
            return sb.ToString();
        }

        var from = 0;
        while (done < count)
        {
            var at = s.IndexOf(old, from, StringComparison.Ordinal);
            if (at < 0) break;
            sb.Append(s, from, at - from).Append(replacement);
            from = at + old.Length;
            done++;
        }

        return sb.Append(s, from, s.Length - from).ToString();
    }

    /// <summary>Python positions count code points.</summary>
    private static int Find(string s, string sub, bool fromEnd)
    {
        var at = fromEnd ? s.LastIndexOf(sub, StringComparison.Ordinal) : s.IndexOf(sub, StringComparison.Ordinal);
        return at < 0 ? -1 : PyText.Length(s[..at]);
    }

    private static int Count(string s, string sub)
    {
        if (sub.Length == 0) return PyText.Length(s) + 1;
        var n = 0;
        for (var at = s.IndexOf(sub, StringComparison.Ordinal); at >= 0; at = s.IndexOf(sub, at + sub.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    public static List<object?> SplitLines(string s, bool keepEnds)
    {
        var lines = new List<object?>();
        var start = 0;
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            if (c is not ('\n' or '\r' or '\v' or '\f' or '\x1c' or '\x1d' or '\x1e' or '\x85' or '\u2028' or '\u2029')) continue;
            var end = i;
            if (c == '\r' && i + 1 < s.Length && s[i + 1] == '\n') i++;
            lines.Add(keepEnds ? s[start..(i + 1)] : s[start..end]);
            start = i + 1;
        }

        if (start < s.Length) lines.Add(s[start..]);
        return lines;
    }

    private static PyTuple Partition(string s, string sep, bool fromEnd)
    {
        var at = fromEnd ? s.LastIndexOf(sep, StringComparison.Ordinal) : s.IndexOf(sep, StringComparison.Ordinal);
        if (at < 0) return fromEnd ? new PyTuple(["", "", s]) : new PyTuple([s, "", ""]);
        return new PyTuple([s[..at], sep, s[(at + sep.Length)..]]);
    }

    private static string Pad(string s, Arguments a, Func<int, char, string> pad)
    {
        var width = (int)(OptLong(a, 0, "width") ?? 0);
        var fill = OptString(a, 1, "fillchar") ?? " ";
        return width <= s.Length ? s : pad(width, fill[0]);
    }

    private static string ZFill(string s, int width)
    {
        if (width <= s.Length) return s;
        var sign = s.Length > 0 && s[0] is '+' or '-' ? s[..1] : "";
        return sign + new string('0', width - s.Length) + s[sign.Length..];
    }

    /// <summary><c>str.format</c> with <c>{}</c>, <c>{0}</c> and <c>{name}</c> fields (no format specs).</summary>
    private static string Format(string s, Arguments a)
    {
        var sb = new StringBuilder();
        var auto = 0;
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            if (c == '{' && i + 1 < s.Length && s[i + 1] == '{' || c == '}' && i + 1 < s.Length && s[i + 1] == '}')
            {
                sb.Append(c);
                i++;
                continue;
            }

            if (c != '{')
            {
                sb.Append(c);
                continue;
            }

            var close = s.IndexOf('}', i);
            if (close < 0) throw new TemplateRuntimeException("Single '{' encountered in format string");
            var field = s[(i + 1)..close];
            var colon = field.IndexOf(':');
            if (colon >= 0) field = field[..colon];
            object? value;
            if (field.Length == 0) value = a.Positional.ElementAtOrDefault(auto++);
            else if (int.TryParse(field, out var n)) value = a.Positional.ElementAtOrDefault(n);
            else value = a.Named.FirstOrDefault(p => p.Key == field).Value;
            sb.Append(PyRepr.Str(value));
            i = close;
        }

        return sb.ToString();
    }
}
