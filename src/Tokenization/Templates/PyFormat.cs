using System.Globalization;
using System.Text;

namespace InferenceServer.Tokenization.Templates;

/// <summary>Python's printf-style <c>"fmt" % args</c> (also the <c>format</c> filter): %s %r %d %i %f %e %g %x %o %c %%.</summary>
internal static class PyFormat
{
    public static string Percent(string format, object? args)
    {
        var positional = args is PyTuple t ? t.Items : [args];
        var mapping = args as IReadOnlyDictionary<string, object?>;
        var next = 0;
        var sb = new StringBuilder();
        for (var i = 0; i < format.Length; i++)
        {
            var c = format[i];
            if (c != '%')
            {
                sb.Append(c);
                continue;
            }

            if (++i >= format.Length) throw new TemplateRuntimeException("incomplete format");
            object? value = null;
            var hasValue = false;
            if (format[i] == '(')
            {
                var close = format.IndexOf(')', i);
                if (close < 0 || mapping is null) throw new TemplateRuntimeException("format requires a mapping");
                var key = format[(i + 1)..close];
                value = mapping.TryGetValue(key, out var v) ? v : throw new TemplateRuntimeException($"KeyError: {PyRepr.Repr(key)}");
                hasValue = true;
                i = close + 1;
            }

            var flags = "";
            while (i < format.Length && "-+ 0#".Contains(format[i])) flags += format[i++];
            var width = ReadNumber(format, ref i);
            int? precision = null;
            if (i < format.Length && format[i] == '.')
            {
                i++;
                precision = ReadNumber(format, ref i) ?? 0;
            }

            if (i >= format.Length) throw new TemplateRuntimeException("incomplete format");
            var conv = format[i];
            if (conv == '%')
            {
                sb.Append('%');
                continue;
            }

            if (!hasValue)
            {
                if (next >= positional.Length) throw new TemplateRuntimeException("not enough arguments for format string");
                value = positional[next++];
            }

            var text = Convert(conv, value, precision, flags);
            var pad = (width ?? 0) - PyText.Length(text);
            if (pad <= 0) sb.Append(text);
            else if (flags.Contains('-')) sb.Append(text).Append(' ', pad);
            else if (flags.Contains('0') && conv is not ('s' or 'r' or 'c') && text.Length > 0 && text[0] is '-' or '+')
                sb.Append(text[0]).Append('0', pad).Append(text, 1, text.Length - 1);
            else sb.Append(flags.Contains('0') && conv is not ('s' or 'r' or 'c') ? '0' : ' ', pad).Append(text);
        }

        if (mapping is null && next < positional.Length && args is PyTuple)
            throw new TemplateRuntimeException("not all arguments converted during string formatting");
        return sb.ToString();
    }

    private static int? ReadNumber(string s, ref int i)
    {
        var start = i;
        while (i < s.Length && char.IsAsciiDigit(s[i])) i++;
        return i > start ? int.Parse(s.AsSpan(start, i - start), CultureInfo.InvariantCulture) : null;
    }

    private static string Convert(char conv, object? value, int? precision, string flags)
    {
        if (value is Undefined u && conv is not 's') throw u.Fail();
        var sign = flags.Contains('+') ? "+" : flags.Contains(' ') ? " " : "";
        string WithSign(string s) => s.StartsWith('-') ? s : sign + s;
        switch (conv)
        {
            case 's':
                var s = PyRepr.Str(value);
                return precision is { } p && p < s.Length ? s[..p] : s;
            case 'r':
                return PyRepr.Repr(value);
            case 'd' or 'i' or 'u':
                return WithSign(value switch
                {
                    long l => l.ToString(CultureInfo.InvariantCulture),
                    bool b => b ? "1" : "0",
                    double d => ((long)Math.Truncate(d)).ToString(CultureInfo.InvariantCulture),
                    _ => throw new TemplateRuntimeException($"%{conv} format: a real number is required, not {PyRepr.TypeName(value)}"),
                });
            case 'f' or 'F' or 'e' or 'E' or 'g' or 'G':
                var x = value switch
                {
                    double d => d,
                    long l => l,
                    bool b => b ? 1 : 0,
                    _ => throw new TemplateRuntimeException($"must be real number, not {PyRepr.TypeName(value)}"),
                };
                var digits = precision ?? 6;
                var formatted = conv switch
                {
                    'f' or 'F' => x.ToString("F" + digits, CultureInfo.InvariantCulture),
                    'e' or 'E' => FormatExponent(x, digits, conv),
                    _ => x.ToString("G" + Math.Max(1, digits), CultureInfo.InvariantCulture),
                };
                return WithSign(formatted);
            case 'x' or 'X' or 'o':
                var n = value switch { long l => l, bool b => b ? 1 : 0, _ => throw new TemplateRuntimeException($"%{conv} format: an integer is required, not {PyRepr.TypeName(value)}") };
                var body = conv == 'o' ? System.Convert.ToString(Math.Abs(n), 8) : Math.Abs(n).ToString(conv == 'x' ? "x" : "X", CultureInfo.InvariantCulture);
                return (n < 0 ? "-" : sign) + body;
            case 'c':
                return value is long cp ? char.ConvertFromUtf32((int)cp) : PyRepr.Str(value);
            default:
                throw new TemplateRuntimeException($"unsupported format character '{conv}'");
        }
    }

    private static string FormatExponent(double x, int digits, char conv)
    {
        var s = x.ToString((conv == 'e' ? "e" : "E") + digits, CultureInfo.InvariantCulture);

        // .NET writes three exponent digits ("1.0e+003"); Python at least two.
        var e = s.IndexOfAny(['e', 'E']);
        var exp = int.Parse(s[(e + 1)..], CultureInfo.InvariantCulture);
        return s[..(e + 1)] + (exp < 0 ? "-" : "+") + Math.Abs(exp).ToString("00", CultureInfo.InvariantCulture);
    }
}
