using System.Globalization;
using System.Text;

namespace InferenceServer.Tokenization.Templates;

/// <summary>
/// Splits template source into tokens with the whitespace rules transformers configures on jinja2:
/// <c>trim_blocks</c> (the first newline after a block or comment tag is dropped), <c>lstrip_blocks</c>
/// (spaces and tabs before a block or comment tag that starts its line are dropped), the explicit
/// <c>-</c>/<c>+</c> markers, and the removal of one trailing newline of the template.
/// </summary>
internal sealed class Lexer
{
    private const bool TrimBlocks = true;
    private const bool LstripBlocks = true;

    private static readonly string[] Operators =
    [
        "//", "**", "==", "!=", ">=", "<=",
        "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";",
    ];

    private readonly string _src;
    private readonly List<Token> _tokens = [];
    private int _pos;
    private int _line = 1;

    private Lexer(string source) => _src = Normalize(source);

    public static List<Token> Tokenize(string source)
    {
        var lexer = new Lexer(source);
        lexer.Run();
        return lexer._tokens;
    }

    /// <summary>jinja2 turns \r\n and \r into \n and, without keep_trailing_newline, drops one final newline.</summary>
    private static string Normalize(string source)
    {
        var s = source.Contains('\r') ? source.Replace("\r\n", "\n").Replace('\r', '\n') : source;
        return s.EndsWith('\n') ? s[..^1] : s;
    }

    private enum After
    {
        Nothing,
        TrimNewline,
        TrimAll,
    }

    private void Run()
    {
        var after = After.Nothing;
        var lineStarting = true;
        while (true)
        {
            // What the previous tag's end consumed belongs to it, as in jinja2's regexes ("%}\n?", "-%}\s*").
            if (after == After.TrimAll)
            {
                var start = _pos;
                while (_pos < _src.Length && PyText.IsSpace(_src[_pos])) Advance();
                lineStarting = _pos > start ? _src[_pos - 1] == '\n' : lineStarting;
            }
            else if (after == After.TrimNewline && _pos < _src.Length && _src[_pos] == '\n')
            {
                Advance();
                lineStarting = true;
            }

            var tagAt = FindTagStart(_pos);
            var textEnd = tagAt < 0 ? _src.Length : tagAt;
            var text = _src[_pos..textEnd];
            var textLine = _line;

            if (tagAt < 0)
            {
                EmitText(text, textLine);
                Advance(textEnd - _pos);
                _tokens.Add(new Token(TokenKind.End, "", _line));
                return;
            }

            var kind = _src[tagAt + 1];
            var marker = tagAt + 2 < _src.Length ? _src[tagAt + 2] : '\0';
            if (marker == '-')
                text = PyText.RStrip(text);
            else if (marker != '+' && LstripBlocks && kind != '{')
                text = LStripBeforeTag(text, lineStarting);
            EmitText(text, textLine);
            Advance(tagAt - _pos);

            var tagLine = _line;
            Advance(marker is '-' or '+' ? 3 : 2);
            switch (kind)
            {
                case '#':
                    after = SkipComment(tagLine);
                    break;
                case '{':
                    _tokens.Add(new Token(TokenKind.VariableBegin, "{{", tagLine));
                    after = LexInsideTag(isBlock: false);
                    break;
                default:
                    if (TryLexRaw(out after)) break;
                    _tokens.Add(new Token(TokenKind.BlockBegin, "{%", tagLine));
                    after = LexInsideTag(isBlock: true);
                    break;
            }

            lineStarting = false;
        }
    }

    private string LStripBeforeTag(string text, bool lineStarting)
    {
        var lineStart = text.LastIndexOf('\n') + 1;
        if (lineStart == 0 && !lineStarting) return text;
        for (var i = lineStart; i < text.Length; i++)
            if (!PyText.IsSpace(text[i])) return text;
        return text[..lineStart];
    }

    private int FindTagStart(int from)
    {
        var i = from;
        while (true)
        {
            i = _src.IndexOf('{', i);
            if (i < 0 || i + 1 >= _src.Length) return -1;
            var c = _src[i + 1];
            if (c is '{' or '%' or '#') return i;
            i++;
        }
    }

    private void EmitText(string text, int line)
    {
        if (text.Length > 0) _tokens.Add(new Token(TokenKind.Text, text, line, text));
    }

    private void Advance(int n = 1)
    {
        for (var k = 0; k < n; k++)
        {
            if (_src[_pos] == '\n') _line++;
            _pos++;
        }
    }

    private After SkipComment(int line)
    {
        var end = _src.IndexOf("#}", _pos, StringComparison.Ordinal);
        if (end < 0) throw new TemplateSyntaxException("Missing end of comment tag", line);
        var strip = end > _pos && _src[end - 1] == '-';
        var keep = end > _pos && _src[end - 1] == '+';
        Advance(end + 2 - _pos);
        return strip ? After.TrimAll : keep || !TrimBlocks ? After.Nothing : After.TrimNewline;
    }

    /// <summary>Reads the tokens of a <c>{{ }}</c> or <c>{% %}</c> tag up to its end delimiter (outside brackets).</summary>
    private After LexInsideTag(bool isBlock)
    {
        // Open brackets: a "}}" or "%}" inside a dict or call is not the end of the tag (as in jinja2's lexer).
        var brackets = new Stack<char>();
        var close = isBlock ? '%' : '}';
        while (true)
        {
            while (_pos < _src.Length && PyText.IsSpace(_src[_pos])) Advance();
            if (_pos >= _src.Length)
                throw new TemplateSyntaxException($"unexpected end of template, expected '{(isBlock ? "end of statement block" : "end of print statement")}'.", _line);

            if (brackets.Count == 0)
            {
                var after = TryTagEnd(close, isBlock);
                if (after is { } a) return a;
            }

            var c = _src[_pos];
            var line = _line;
            if (c is '\'' or '"')
            {
                var value = ReadString(c);
                _tokens.Add(new Token(TokenKind.String, value, line, value));
            }
            else if (char.IsAsciiDigit(c))
            {
                _tokens.Add(ReadNumber());
            }
            else if (c == '_' || char.IsLetter(c))
            {
                var start = _pos;
                while (_pos < _src.Length && (_src[_pos] == '_' || char.IsLetterOrDigit(_src[_pos]))) _pos++;
                _tokens.Add(new Token(TokenKind.Name, _src[start.._pos], line));
            }
            else
            {
                var op = Operators.FirstOrDefault(o => string.CompareOrdinal(_src, _pos, o, 0, o.Length) == 0)
                    ?? throw new TemplateSyntaxException($"unexpected char '{c}' at {_pos}", line);
                if (op is "(" or "[" or "{")
                {
                    brackets.Push(op is "(" ? ')' : op is "[" ? ']' : '}');
                }
                else if (op is ")" or "]" or "}")
                {
                    if (brackets.Count == 0) throw new TemplateSyntaxException($"unexpected '{op}'", line);
                    var expected = brackets.Pop();
                    if (expected != op[0]) throw new TemplateSyntaxException($"unexpected '{op}', expected '{expected}'", line);
                }

                _pos += op.Length;
                _tokens.Add(new Token(TokenKind.Operator, op, line));
            }
        }
    }

    private After? TryTagEnd(char close, bool isBlock)
    {
        var c = _src[_pos];
        var hasMarker = c is '-' or '+';
        var at = hasMarker ? _pos + 1 : _pos;
        if (at + 1 >= _src.Length || _src[at] != close || _src[at + 1] != '}') return null;
        _tokens.Add(new Token(isBlock ? TokenKind.BlockEnd : TokenKind.VariableEnd, isBlock ? "%}" : "}}", _line));
        Advance(at + 2 - _pos);
        if (c == '-') return After.TrimAll;
        return isBlock && c != '+' && TrimBlocks ? After.TrimNewline : After.Nothing;
    }

    /// <summary><c>{% raw %}…{% endraw %}</c>: the content is text, tags inside are not interpreted.</summary>
    private bool TryLexRaw(out After after)
    {
        after = After.Nothing;
        var i = _pos;
        while (i < _src.Length && PyText.IsSpace(_src[i])) i++;
        if (string.CompareOrdinal(_src, i, "raw", 0, 3) != 0) return false;
        i += 3;
        while (i < _src.Length && PyText.IsSpace(_src[i])) i++;
        var closeMarker = i < _src.Length && _src[i] is '-' or '+' ? _src[i] : '\0';
        if (closeMarker != '\0') i++;
        if (string.CompareOrdinal(_src, i, "%}", 0, 2) != 0) return false;
        var line = _line;
        Advance(i + 2 - _pos);
        if (closeMarker == '-') while (_pos < _src.Length && PyText.IsSpace(_src[_pos])) Advance();
        else if (closeMarker != '+' && _pos < _src.Length && _src[_pos] == '\n') Advance();

        var search = _pos;
        while (true)
        {
            var tag = _src.IndexOf("{%", search, StringComparison.Ordinal);
            if (tag < 0) throw new TemplateSyntaxException("Missing end of raw directive", line);
            var j = tag + 2;
            var marker = j < _src.Length && _src[j] is '-' or '+' ? _src[j] : '\0';
            if (marker != '\0') j++;
            while (j < _src.Length && PyText.IsSpace(_src[j])) j++;
            if (string.CompareOrdinal(_src, j, "endraw", 0, 6) != 0)
            {
                search = tag + 2;
                continue;
            }

            j += 6;
            while (j < _src.Length && PyText.IsSpace(_src[j])) j++;
            var endMarker = j < _src.Length && _src[j] is '-' or '+' ? _src[j] : '\0';
            if (endMarker != '\0') j++;
            if (string.CompareOrdinal(_src, j, "%}", 0, 2) != 0)
            {
                search = tag + 2;
                continue;
            }

            var content = _src[_pos..tag];
            content = marker == '-' ? PyText.RStrip(content) : marker != '+' ? LStripBeforeTag(content, false) : content;
            EmitText(content, _line);
            Advance(j + 2 - _pos);
            after = endMarker == '-' ? After.TrimAll : endMarker == '+' ? After.Nothing : After.TrimNewline;
            return true;
        }
    }

    private Token ReadNumber()
    {
        var line = _line;
        var start = _pos;
        var isFloat = false;
        SkipDigits();
        if (_pos + 1 < _src.Length && _src[_pos] == '.' && char.IsAsciiDigit(_src[_pos + 1]))
        {
            isFloat = true;
            _pos++;
            SkipDigits();
        }

        if (_pos < _src.Length && _src[_pos] is 'e' or 'E')
        {
            var k = _pos + 1;
            if (k < _src.Length && _src[k] is '+' or '-') k++;
            if (k < _src.Length && char.IsAsciiDigit(_src[k]))
            {
                isFloat = true;
                _pos = k;
                SkipDigits();
            }
        }

        var text = _src[start.._pos];
        var digits = text.Replace("_", "");
        if (isFloat)
            return new Token(TokenKind.Float, text, line, double.Parse(digits, NumberStyles.Float, CultureInfo.InvariantCulture));
        if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            throw new TemplateSyntaxException($"integer literal too large: {text}", line);
        return new Token(TokenKind.Integer, text, line, value);
    }

    private void SkipDigits()
    {
        while (_pos < _src.Length && (char.IsAsciiDigit(_src[_pos]) || (_src[_pos] == '_' && _pos + 1 < _src.Length && char.IsAsciiDigit(_src[_pos + 1]))))
            _pos++;
    }

    /// <summary>Reads a quoted literal and decodes it as jinja2 does (Python's unicode-escape rules).</summary>
    private string ReadString(char quote)
    {
        var line = _line;
        var sb = new StringBuilder();
        Advance();
        while (true)
        {
            if (_pos >= _src.Length) throw new TemplateSyntaxException("unexpected end of string literal", line);
            var c = _src[_pos];
            if (c == quote)
            {
                Advance();
                return sb.ToString();
            }

            if (c != '\\' || _pos + 1 >= _src.Length)
            {
                sb.Append(c);
                Advance();
                continue;
            }

            var e = _src[_pos + 1];
            Advance(2);
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case '\\': sb.Append('\\'); break;
                case '\'': sb.Append('\''); break;
                case '"': sb.Append('"'); break;
                case 'a': sb.Append('\a'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'v': sb.Append('\v'); break;
                case '\n': break;
                case 'x': AppendHexEscape(sb, 2, line); break;
                case 'u': AppendHexEscape(sb, 4, line); break;
                case 'U': AppendHexEscape(sb, 8, line); break;
                case >= '0' and <= '7':
                    var value = e - '0';
                    for (var k = 0; k < 2 && _pos < _src.Length && _src[_pos] is >= '0' and <= '7'; k++)
                    {
                        value = value * 8 + (_src[_pos] - '0');
                        Advance();
                    }

                    sb.Append((char)value);
                    break;
                default:
                    // Python keeps unknown escapes such as "\d" as they are.
                    sb.Append('\\').Append(e);
                    break;
            }
        }
    }

    private void AppendHexEscape(StringBuilder sb, int digits, int line)
    {
        if (_pos + digits > _src.Length || !int.TryParse(_src.AsSpan(_pos, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var cp))
            throw new TemplateSyntaxException("truncated \\x, \\u or \\U escape in string literal", line);
        Advance(digits);
        if (cp <= 0xFFFF) sb.Append((char)cp);
        else if (cp <= 0x10FFFF) sb.Append(char.ConvertFromUtf32(cp));
        else throw new TemplateSyntaxException("illegal Unicode character in string literal", line);
    }
}
