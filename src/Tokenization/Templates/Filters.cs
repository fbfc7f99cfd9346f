using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace InferenceServer.Tokenization.Templates;

/// <summary>
/// jinja2's built-in filters (and transformers' <c>tojson</c>), with jinja2's argument names and defaults.
/// Filters that produce a sequence (select, map, …) return a list rather than a generator, which prints the same
/// after <c>| list</c> or <c>| join</c>, the way templates use them.
/// </summary>
internal static partial class Filters
{
    private static readonly Dictionary<string, FilterFn> All = new(StringComparer.Ordinal)
    {
        ["abs"] = (_, v, _) => v switch
        {
            long l => (object)Math.Abs(l),
            double d => Math.Abs(d),
            bool b => b ? 1L : 0L,
            _ => throw new TemplateRuntimeException($"bad operand type for abs(): '{PyRepr.TypeName(v)}'"),
        },
        ["attr"] = (_, v, a) => Members.GetAttr(v, PyRepr.Str(a.Get(0, "name"))),
        ["batch"] = Batch,
        ["capitalize"] = (_, v, _) => PyText.Capitalize(PyRepr.Str(v)),
        ["center"] = (_, v, a) => StringMethods.Bind(PyRepr.Str(v), "center")!.Call(null!, new Arguments([a.Get(0, "width", 80L)])),
        ["count"] = (_, v, _) => PyOps.Length(v),
        ["length"] = (_, v, _) => PyOps.Length(v),
        ["default"] = Default,
        ["d"] = Default,
        ["dictsort"] = DictSort,
        ["escape"] = (_, v, _) => Escape(PyRepr.Str(v)),
        ["e"] = (_, v, _) => Escape(PyRepr.Str(v)),
        ["forceescape"] = (_, v, _) => Escape(PyRepr.Str(v)),
        ["first"] = (_, v, _) => PyOps.Iterate(v) is { Count: > 0 } l ? l[0] : Undefined.WithHint("No first item, sequence was empty."),
        ["last"] = (_, v, _) => PyOps.Iterate(v) is { Count: > 0 } l ? l[^1] : Undefined.WithHint("No last item, sequence was empty."),
        ["float"] = (_, v, a) => ToFloat(v, a.Get(0, "default", 0.0)),
        ["int"] = (_, v, a) => ToInt(v, a.Get(0, "default", 0L), a.Get(1, "base", 10L) is long b ? (int)b : 10),
        ["format"] = (_, v, a) => PyFormat.Percent(PyRepr.Str(v), a.Named.Count > 0 ? a.Named.ToDictionary(p => p.Key, p => p.Value) : new PyTuple([.. a.Positional])),
        ["groupby"] = GroupBy,
        ["indent"] = Indent,
        ["items"] = (_, v, _) => v switch
        {
            Undefined => new List<object?>(),
            IReadOnlyDictionary<string, object?> d => d.Select(p => (object?)new PyTuple([p.Key, p.Value])).ToList(),
            _ => throw new TemplateRuntimeException("Can only get item pairs from a mapping."),
        },
        ["join"] = Join,
        ["list"] = (_, v, _) => PyOps.Iterate(v).ToList(),
        ["lower"] = (_, v, _) => PyText.Lower(PyRepr.Str(v)),
        ["upper"] = (_, v, _) => PyText.Upper(PyRepr.Str(v)),
        ["map"] = Map,
        ["max"] = (it, v, a) => MinMax(v, a, max: true),
        ["min"] = (it, v, a) => MinMax(v, a, max: false),
        ["pprint"] = (_, v, _) => PyRepr.Repr(v),
        ["reject"] = (it, v, a) => Select(it, v, a, attribute: false, keep: false),
        ["rejectattr"] = (it, v, a) => Select(it, v, a, attribute: true, keep: false),
        ["select"] = (it, v, a) => Select(it, v, a, attribute: false, keep: true),
        ["selectattr"] = (it, v, a) => Select(it, v, a, attribute: true, keep: true),
        ["replace"] = (_, v, a) => StringMethods.Bind(PyRepr.Str(v), "replace")!.Call(null!, new Arguments([PyRepr.Str(a.Get(0, "old")), PyRepr.Str(a.Get(1, "new")), a.Get(2, "count")])),
        ["reverse"] = (_, v, _) => v is string s ? string.Concat(PyText.Chars(s).AsEnumerable().Reverse()) : PyOps.Iterate(v).Reverse().ToList(),
        ["round"] = Round,
        ["safe"] = (_, v, _) => v,
        ["string"] = (_, v, _) => PyRepr.Str(v),
        ["striptags"] = (_, v, _) => string.Join(" ", PyText.Split(TagPattern().Replace(PyRepr.Str(v), ""), null, -1).Cast<string>()),
        ["sort"] = Sort,
        ["sum"] = Sum,
        ["title"] = (_, v, _) => Title(PyRepr.Str(v)),
        ["tojson"] = ToJson,
        ["trim"] = (_, v, a) => PyText.Strip(PyRepr.Str(v), a.Get(0, "chars") as string),
        ["truncate"] = Truncate,
        ["unique"] = Unique,
        ["wordcount"] = (_, v, _) => (long)WordPattern().Matches(PyRepr.Str(v)).Count,
    };

    public static FilterFn? Find(string name) => All.GetValueOrDefault(name);

    [GeneratedRegex(@"\w+")]
    private static partial Regex WordPattern();

    [GeneratedRegex(@"(<!--.*?-->|<[^>]*>)", RegexOptions.Singleline)]
    private static partial Regex TagPattern();

    [GeneratedRegex(@"([-\s({\[<]+)")]
    private static partial Regex WordBeginning();

    private static object? Default(Interpreter _, object? v, Arguments a)
    {
        var fallback = a.Get(0, "default_value", "");
        var boolean = PyOps.Truthy(a.Get(1, "boolean", false));
        return v is Undefined || (boolean && !PyOps.Truthy(v)) ? fallback : v;
    }

    /// <summary>jinja2's title filter (not str.title): capitalises after '-', whitespace and opening brackets.</summary>
    private static string Title(string s) =>
        string.Concat(WordBeginning().Split(s).Where(p => p.Length > 0).Select(p => PyText.Upper(PyText.Index(p, 0)) + PyText.Lower(PyText.Slice(p, new PySlice(1, null, null)))));

    private static string Escape(string s) =>
        s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&#34;").Replace("'", "&#39;");

    private static object? ToJson(Interpreter _, object? v, Arguments a)
    {
        var indent = a.Get(0, "indent") switch
        {
            null => null,
            long n => new string(' ', (int)Math.Max(0, n)),
            string s => s,
            var other => throw new TemplateRuntimeException($"indent must be int or str, not {PyRepr.TypeName(other)}"),
        };
        string? itemSep = null, keySep = null;
        if (a.Get(-1, "separators") is IReadOnlyList<object?> { Count: 2 } seps)
        {
            itemSep = PyRepr.Str(seps[0]);
            keySep = PyRepr.Str(seps[1]);
        }

        return PyJson.Dumps(v, indent, PyOps.Truthy(a.Get(-1, "ensure_ascii", false)), itemSep, keySep, PyOps.Truthy(a.Get(-1, "sort_keys", false)));
    }

    private static object? Join(Interpreter _, object? v, Arguments a)
    {
        var separator = PyRepr.Str(a.Get(0, "d", ""));
        var items = PyOps.Iterate(v);
        if (a.Get(1, "attribute") is { } attr) items = items.Select(x => AttributeGetter(attr)(x)).ToList();
        return string.Join(separator, items.Select(PyRepr.Str));
    }

    private static object? Map(Interpreter it, object? v, Arguments a)
    {
        var items = PyOps.Iterate(v);
        if (a.Positional.Count == 0 && a.TryGet(-1, "attribute", out var attr))
        {
            var getter = AttributeGetter(attr);
            var hasDefault = a.TryGet(-1, "default", out var fallback);
            return items.Select(x => getter(x) is Undefined && hasDefault ? fallback : getter(x)).ToList();
        }

        var name = a.Positional.Count > 0 ? PyRepr.Str(a.Positional[0]) : throw new TemplateRuntimeException("map requires a filter argument");
        var filter = Find(name) ?? throw new TemplateRuntimeException($"No filter named {PyRepr.Repr(name)}.");
        var rest = new Arguments(a.Positional.Skip(1).ToList(), a.Named);
        return items.Select(x => filter(it, x, rest)).ToList();
    }

    private static object? Select(Interpreter it, object? v, Arguments a, bool attribute, bool keep)
    {
        var offset = attribute ? 1 : 0;
        var getter = attribute ? AttributeGetter(a.Get(0, "attribute")) : x => x;
        Func<object?, bool> test;
        if (a.Positional.Count > offset)
        {
            var name = PyRepr.Str(a.Positional[offset]);
            var testArgs = new Arguments(a.Positional.Skip(offset + 1).ToList(), a.Named);
            test = x => Tests.Run(it, name, x, testArgs);
        }
        else
        {
            test = PyOps.Truthy;
        }

        return PyOps.Iterate(v).Where(x => test(getter(x)) == keep).ToList();
    }

    /// <summary>jinja2's make_attrgetter: "a.b.0" looks up each part as an item (then attribute), integers as indices.</summary>
    internal static Func<object?, object?> AttributeGetter(object? attribute)
    {
        if (attribute is long index) return x => Members.GetItem(x, index);
        var parts = PyRepr.Str(attribute).Split('.')
            .Select(p => long.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? (object)n : p).ToArray();
        return x =>
        {
            foreach (var part in parts) x = Members.GetItem(x, part);
            return x;
        };
    }

    private static object? ToInt(object? v, object? fallback, int numberBase)
    {
        switch (v)
        {
            case long or bool: return v is bool b ? (b ? 1L : 0L) : v;
            case double d: return double.IsFinite(d) ? (long)Math.Truncate(d) : fallback;
            case string s:
                var t = PyText.Strip(s, null).Replace("_", "");
                try
                {
                    if (numberBase == 10 && long.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)) return l;
                    if (numberBase != 10 && t.Length > 0) return Convert.ToInt64(StripBasePrefix(t, numberBase), numberBase);
                }
                catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
                {
                    return fallback;
                }

                return ToFloat(t, null) is double f && double.IsFinite(f) ? (long)Math.Truncate(f) : fallback;
            default: return fallback;
        }
    }

    private static string StripBasePrefix(string t, int numberBase)
    {
        var prefix = numberBase switch { 16 => "0x", 8 => "0o", 2 => "0b", _ => null };
        return prefix is not null && t.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) ? t[2..] : t;
    }

    private static object? ToFloat(object? v, object? fallback) => v switch
    {
        double => v,
        long l => (double)l,
        bool b => b ? 1.0 : 0.0,
        string s => PyText.Strip(s, null).ToLowerInvariant() switch
        {
            "inf" or "+inf" or "infinity" => double.PositiveInfinity,
            "-inf" or "-infinity" => double.NegativeInfinity,
            "nan" or "+nan" or "-nan" => double.NaN,
            var t => double.TryParse(t.Replace("_", ""), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : fallback,
        },
        _ => fallback,
    };

    private static object? Round(Interpreter _, object? v, Arguments a)
    {
        var precision = a.Get(0, "precision", 0L) is long p ? (int)p : 0;
        var method = PyRepr.Str(a.Get(1, "method", "common"));
        var x = v switch
        {
            double d => d,
            long l => l,
            bool b => b ? 1 : 0,
            _ => throw new TemplateRuntimeException($"type {PyRepr.TypeName(v)} doesn't define __round__ method"),
        };
        var scale = Math.Pow(10, precision);
        return method switch
        {
            "common" => precision >= 0 ? Math.Round(x, Math.Min(precision, 15), MidpointRounding.ToEven) : Math.Round(x / scale, MidpointRounding.ToEven) * scale,
            "ceil" => Math.Ceiling(x * scale) / scale,
            "floor" => Math.Floor(x * scale) / scale,
            _ => throw new TemplateRuntimeException("method must be common, ceil or floor"),
        };
    }

    private static object? Indent(Interpreter _, object? v, Arguments a)
    {
        var width = a.Get(0, "width", 4L);
        var indentation = width is string w ? w : new string(' ', (int)(width is long n ? n : 4));
        var first = PyOps.Truthy(a.Get(1, "first", false));
        var blank = PyOps.Truthy(a.Get(2, "blank", false));
        var lines = StringMethods.SplitLines(PyRepr.Str(v) + "\n", keepEnds: false).Cast<string>().ToList();
        string result;
        if (blank)
        {
            result = string.Join("\n" + indentation, lines);
        }
        else
        {
            result = lines[0];
            if (lines.Count > 1)
                result += "\n" + string.Join("\n", lines.Skip(1).Select(l => l.Length > 0 ? indentation + l : l));
        }

        return first ? indentation + result : result;
    }

    private static object? Truncate(Interpreter _, object? v, Arguments a)
    {
        var s = PyRepr.Str(v);
        var length = a.Get(0, "length", 255L) is long n ? (int)n : 255;
        var killWords = PyOps.Truthy(a.Get(1, "killwords", false));
        var end = PyRepr.Str(a.Get(2, "end", "..."));
        var leeway = a.Get(3, "leeway", 5L) is long lw ? (int)lw : 5;
        if (PyText.Length(s) <= length + leeway) return s;
        var head = PyText.Slice(s, new PySlice(0, Math.Max(0, length - PyText.Length(end)), null));
        if (killWords) return head + end;
        var space = head.LastIndexOf(' ');
        return (space >= 0 ? head[..space] : head) + end;
    }

    private static object? Batch(Interpreter _, object? v, Arguments a)
    {
        var size = a.Get(0, "linecount") is long n && n > 0 ? (int)n : throw new TemplateRuntimeException("batch size must be positive");
        var hasFill = a.TryGet(1, "fill_with", out var fill) && fill is not null;
        var result = new List<object?>();
        List<object?>? current = null;
        foreach (var item in PyOps.Iterate(v))
        {
            current ??= [];
            current.Add(item);
            if (current.Count == size)
            {
                result.Add(current);
                current = null;
            }
        }

        if (current is not null)
        {
            while (hasFill && current.Count < size) current.Add(fill);
            result.Add(current);
        }

        return result;
    }
}
