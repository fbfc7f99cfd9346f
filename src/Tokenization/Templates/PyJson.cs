using System.Globalization;
using System.Text;

namespace InferenceServer.Tokenization.Templates;

/// <summary>
/// The <c>tojson</c> filter as transformers defines it: Python's <c>json.dumps(value, ensure_ascii=False,
/// indent=indent, separators=separators, sort_keys=False)</c>, byte for byte (", "/": " separators, "\n" plus
/// indent when indenting, floats as Python's repr, no HTML escaping — unlike jinja2's own tojson).
/// </summary>
internal static class PyJson
{
    public static string Dumps(object? value, string? indent, bool ensureAscii = false, string? itemSeparator = null, string? keySeparator = null, bool sortKeys = false)
    {
        var sb = new StringBuilder();
        var options = new Options(indent, ensureAscii, itemSeparator ?? (indent is null ? ", " : ","), keySeparator ?? ": ", sortKeys);
        Write(sb, value, options, 0);
        return sb.ToString();
    }

    private sealed record Options(string? Indent, bool EnsureAscii, string ItemSeparator, string KeySeparator, bool SortKeys);

    private static void Write(StringBuilder sb, object? value, Options o, int level)
    {
        if (level > NestingLimits.Value || !NestingLimits.StackLeft()) throw NestingLimits.ValueTooDeep("encoding a JSON object");
        switch (value)
        {
            case null: sb.Append("null"); break;
            case bool b: sb.Append(b ? "true" : "false"); break;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case double d:
                sb.Append(double.IsNaN(d) ? "NaN" : double.IsPositiveInfinity(d) ? "Infinity" : double.IsNegativeInfinity(d) ? "-Infinity" : PyRepr.FormatFloat(d));
                break;
            case string s: WriteString(sb, s, o.EnsureAscii); break;
            case IReadOnlyDictionary<string, object?> dict:
                if (dict.Count == 0)
                {
                    sb.Append("{}");
                    break;
                }

                sb.Append('{');
                var pairs = o.SortKeys ? dict.OrderBy(p => p.Key, Comparer<string>.Create(PyText.Compare)).ToList() : dict.ToList();
                for (var i = 0; i < pairs.Count; i++)
                {
                    sb.Append(i > 0 ? o.ItemSeparator : "");
                    NewLine(sb, o, level + 1);
                    WriteString(sb, pairs[i].Key, o.EnsureAscii);
                    sb.Append(o.KeySeparator);
                    Write(sb, pairs[i].Value, o, level + 1);
                }

                NewLine(sb, o, level);
                sb.Append('}');
                break;
            case IReadOnlyList<object?> list:
                if (list.Count == 0)
                {
                    sb.Append("[]");
                    break;
                }

                sb.Append('[');
                for (var i = 0; i < list.Count; i++)
                {
                    sb.Append(i > 0 ? o.ItemSeparator : "");
                    NewLine(sb, o, level + 1);
                    Write(sb, list[i], o, level + 1);
                }

                NewLine(sb, o, level);
                sb.Append(']');
                break;
            default:
                throw new TemplateRuntimeException($"Object of type {PyRepr.TypeName(value)} is not JSON serializable");
        }
    }

    private static void NewLine(StringBuilder sb, Options o, int level)
    {
        if (o.Indent is null) return;
        sb.Append('\n');
        for (var i = 0; i < level; i++) sb.Append(o.Indent);
    }

    private static void WriteString(StringBuilder sb, string s, bool ensureAscii)
    {
        sb.Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    // UTF-16 units are exactly the \u escapes Python emits (surrogate pairs for astral characters).
                    if (c < 0x20 || (ensureAscii && c > 0x7e))
                        sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else
                        sb.Append(c);
                    break;
            }
        }

        sb.Append('"');
    }
}
