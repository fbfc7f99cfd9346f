using System.Globalization;
using System.Text;

namespace InferenceServer.Tokenization.Templates;

/// <summary>
/// Python <c>str</c> semantics on .NET strings: Python counts, indexes and slices code points (an emoji is one
/// character), .NET UTF-16 units, so anything positional goes through here.
/// </summary>
internal static class PyText
{
    /// <summary>Python's <c>str.isspace</c> for one UTF-16 unit (adds the \x1c–\x1f separators .NET omits).</summary>
    public static bool IsSpace(char c) => char.IsWhiteSpace(c) || c is >= '\x1c' and <= '\x1f';

    public static bool HasSurrogates(string s)
    {
        foreach (var c in s)
            if (char.IsSurrogate(c)) return true;
        return false;
    }

    /// <summary>The code points of <paramref name="s"/>, each as a string (what iterating a Python str yields).</summary>
    public static List<object?> Chars(string s)
    {
        var list = new List<object?>(s.Length);
        for (var i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                list.Add(s.Substring(i, 2));
                i++;
            }
            else
            {
                list.Add(s[i].ToString());
            }
        }

        return list;
    }

    public static int Length(string s) => HasSurrogates(s) ? Chars(s).Count : s.Length;

    public static string Index(string s, long index)
    {
        var chars = HasSurrogates(s) ? Chars(s) : null;
        var n = chars?.Count ?? s.Length;
        var i = index < 0 ? index + n : index;
        if (i < 0 || i >= n) throw new IndexOutOfRangeException();
        return chars is null ? s[(int)i].ToString() : (string)chars[(int)i]!;
    }

    public static string Slice(string s, PySlice slice)
    {
        if (!HasSurrogates(s) && (slice.Step ?? 1) == 1)
        {
            var idx = slice.Indices(s.Length).ToList();
            return idx.Count == 0 ? "" : s.Substring(idx[0], idx.Count);
        }

        var chars = Chars(s);
        var sb = new StringBuilder();
        foreach (var i in slice.Indices(chars.Count)) sb.Append((string)chars[i]!);
        return sb.ToString();
    }

    public static string Strip(string s, string? chars) => RStrip(LStrip(s, chars), chars);

    public static string LStrip(string s, string? chars = null)
    {
        var i = 0;
        while (i < s.Length && Strippable(s[i], chars)) i++;
        return s[i..];
    }

    public static string RStrip(string s, string? chars = null)
    {
        var i = s.Length;
        while (i > 0 && Strippable(s[i - 1], chars)) i--;
        return s[..i];
    }

    private static bool Strippable(char c, string? chars) => chars is null ? IsSpace(c) : chars.Contains(c);

    /// <summary>Python <c>str.split</c>: without a separator splits on whitespace runs and drops empty parts.</summary>
    public static List<object?> Split(string s, string? sep, long maxSplit)
    {
        var parts = new List<object?>();
        if (sep is null)
        {
            var i = 0;
            while (true)
            {
                while (i < s.Length && IsSpace(s[i])) i++;
                if (i >= s.Length) break;
                if (maxSplit >= 0 && parts.Count == maxSplit)
                {
                    parts.Add(RStrip(s[i..]));
                    break;
                }

                var start = i;
                while (i < s.Length && !IsSpace(s[i])) i++;
                parts.Add(s[start..i]);
            }

            return parts;
        }

        if (sep.Length == 0) throw new TemplateRuntimeException("empty separator");
        var from = 0;
        while (maxSplit < 0 || parts.Count < maxSplit)
        {
            var at = s.IndexOf(sep, from, StringComparison.Ordinal);
            if (at < 0) break;
            parts.Add(s[from..at]);
            from = at + sep.Length;
        }

        parts.Add(s[from..]);
        return parts;
    }

    /// <summary>Python <c>str.rsplit</c>.</summary>
    public static List<object?> RSplit(string s, string? sep, long maxSplit)
    {
        if (maxSplit < 0) return Split(s, sep, -1);
        var parts = new List<object?>();
        if (sep is null)
        {
            var i = s.Length;
            while (true)
            {
                while (i > 0 && IsSpace(s[i - 1])) i--;
                if (i <= 0) break;
                if (parts.Count == maxSplit)
                {
                    parts.Add(LStrip(s[..i]));
                    break;
                }

                var end = i;
                while (i > 0 && !IsSpace(s[i - 1])) i--;
                parts.Add(s[i..end]);
            }
        }
        else
        {
            if (sep.Length == 0) throw new TemplateRuntimeException("empty separator");
            var to = s.Length;
            while (parts.Count < maxSplit)
            {
                var at = to - sep.Length < 0 ? -1 : s.LastIndexOf(sep, to - 1, to, StringComparison.Ordinal);
                if (at < 0) break;
                parts.Add(s[(at + sep.Length)..to]);
                to = at;
            }

            parts.Add(s[..to]);
        }

        parts.Reverse();
        return parts;
    }

    /// <summary>Python <c>str.title</c>: a cased character after an uncased one starts a word.</summary>
    public static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        var previousCased = false;
        foreach (var rune in s.EnumerateRunes())
        {
            var cased = Rune.IsUpper(rune) || Rune.IsLower(rune) || Rune.GetUnicodeCategory(rune) == UnicodeCategory.TitlecaseLetter;
            sb.Append((cased && previousCased ? Rune.ToLowerInvariant(rune) : cased ? Rune.ToUpperInvariant(rune) : rune).ToString());
            previousCased = cased;
        }

        return sb.ToString();
    }

    /// <summary>Python <c>str.capitalize</c>: first character upper, the rest lower.</summary>
    public static string Capitalize(string s) =>
        s.Length == 0 ? s : Upper(Index(s, 0)) + Lower(Slice(s, new PySlice(1, null, null)));

    public static string Upper(string s) => s.ToUpperInvariant();

    public static string Lower(string s) => s.ToLowerInvariant();

    /// <summary>Python's ordering of strings: by code point (UTF-16 order differs above the BMP).</summary>
    public static int Compare(string a, string b)
    {
        var i = 0;
        var j = 0;
        while (i < a.Length && j < b.Length)
        {
            var ca = CodePointAt(a, ref i);
            var cb = CodePointAt(b, ref j);
            if (ca != cb) return ca.CompareTo(cb);
        }

        return (a.Length - i).CompareTo(b.Length - j);
    }

    private static int CodePointAt(string s, ref int i)
    {
        if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
        {
            var cp = char.ConvertToUtf32(s[i], s[i + 1]);
            i += 2;
            return cp;
        }

        return s[i++];
    }
}
