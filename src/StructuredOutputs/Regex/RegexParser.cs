
namespace InferenceServer.StructuredOutputs;

/// <summary>
/// A regular expression (the syntax common to Python <c>re</c>, JavaScript and .NET that vLLM's guided_regex users
/// write) → grammar over code points. The whole output must match (as Python's <c>re.fullmatch</c>); a leading ^ and
/// trailing $ are accepted and mean nothing more. Supported: literals, escapes (\d \w \s and their negations, \n \t
/// \r \f \v \xHH \uHHHH, escaped punctuation), <c>.</c> (anything but a newline), classes with ranges and negation,
/// groups (capturing, <c>(?:…)</c>, named), <c>|</c>, and the quantifiers * + ? {n} {n,} {n,m} (lazy forms allowed).
/// Backreferences, lookaround, anchors inside the pattern and inline flags are refused.
/// </summary>
internal sealed class RegexParser
{
    private const int MaxCodePoint = 0x10FFFF;
    private static readonly (int, int)[] Digits = [('0', '9')];
    private static readonly (int, int)[] Word = [('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')];
    private static readonly (int, int)[] Space = [('\t', '\r'), (' ', ' ')];

    private readonly string _pattern;
    private int _at;

    private RegexParser(string pattern) => _pattern = pattern;

    public static GrammarNode Parse(string pattern)
    {
        var p = new RegexParser(pattern);
        if (p.Peek('^')) p._at++;
        var node = p.Alternation();
        if (p._at < pattern.Length)
            throw p.Error(pattern[p._at] == ')' ? "unbalanced ')'" : $"unexpected '{pattern[p._at]}'");
        return node;
    }

    private GrammarException Error(string message, string construct = "regex") =>
        new($"regex error at position {_at}: {message}", construct);

    private bool Peek(char c) => _at < _pattern.Length && _pattern[_at] == c;

    private bool AtEndAnchor() => Peek('$') && _at == _pattern.Length - 1;

    private GrammarNode Alternation()
    {
        var options = new List<GrammarNode> { Sequence() };
        while (Peek('|'))
        {
            _at++;
            options.Add(Sequence());
        }
        return GrammarNode.Choice([.. options]);
    }

    private GrammarNode Sequence()
    {
        var parts = new List<GrammarNode>();
        while (_at < _pattern.Length && !Peek('|') && !Peek(')'))
        {
            if (AtEndAnchor()) { _at++; break; }
            parts.Add(Quantified(Atom()));
        }
        return parts.Count == 0 ? new LiteralNode([]) : GrammarNode.Seq([.. parts]);
    }

    private GrammarNode Quantified(GrammarNode atom)
    {
        while (_at < _pattern.Length)
        {
            int min, max;
            char c = _pattern[_at];
            if (c == '*') (min, max) = (0, -1);
            else if (c == '+') (min, max) = (1, -1);
            else if (c == '?') (min, max) = (0, 1);
            else if (c == '{' && TryCounts(out min, out max)) { }
            else return atom;
            if (c != '{') _at++;
            if (Peek('?')) _at++;   // lazy: the language is the same
            else if (Peek('+')) throw Error("possessive quantifiers are not supported", "possessive quantifier");
            atom = new RepeatNode(atom, min, max);
        }
        return atom;
    }

    /// <summary>{n}, {n,} or {n,m} at the cursor; false (cursor unmoved) when the brace is a literal.</summary>
    private bool TryCounts(out int min, out int max)
    {
        min = max = 0;
        int close = _pattern.IndexOf('}', _at);
        if (close < 0) return false;
        var body = _pattern[(_at + 1)..close].Split(',');
        if (body.Length > 2 || !int.TryParse(body[0], out min)) return false;
        if (body.Length == 1) max = min;
        else if (body[1].Length == 0) max = -1;
        else if (!int.TryParse(body[1], out max)) return false;
        if (max >= 0 && max < min) throw Error($"{{{min},{max}}} has its bounds reversed", "{n,m}");
        _at = close + 1;
        return true;
    }

    private GrammarNode Atom()
    {
        char c = _pattern[_at++];
        switch (c)
        {
            case '(':
                if (Peek('?'))
                {
                    if (_at + 1 < _pattern.Length && _pattern[_at + 1] == ':') _at += 2;
                    else if (_at + 1 < _pattern.Length && _pattern[_at + 1] is 'P' or '<' && _at + 2 < _pattern.Length && _pattern[_at + 2] is not '=' and not '!')
                    {
                        int end = _pattern.IndexOf('>', _at);
                        if (end < 0) throw Error("unterminated group name");
                        _at = end + 1;
                    }
                    else throw Error("lookaround and inline flags are not supported", "(?");
                }
                var inner = Alternation();
                if (!Peek(')')) throw Error("missing ')'");
                _at++;
                return inner;
            case '[': return new CodePointSetNode(Class());
            case '.': return new CodePointSetNode(Complement([('\n', '\n')]));
            case '\\': return new CodePointSetNode(Escape(inClass: false));
            case '^' or '$': throw Error($"the anchor '{c}' is only supported at the start/end of the pattern", c.ToString());
            case '*' or '+' or '?': throw Error($"'{c}' has nothing to repeat");
            default:
                int cp = char.IsHighSurrogate(c) && _at < _pattern.Length ? char.ConvertToUtf32(c, _pattern[_at++]) : c;
                return new CodePointSetNode([(cp, cp)]);
        }
    }

    private List<(int, int)> Class()
    {
        bool negate = Peek('^');
        if (negate) _at++;
        var ranges = new List<(int, int)>();
        bool first = true;
        while (true)
        {
            if (_at >= _pattern.Length) throw Error("unterminated character class");
            char c = _pattern[_at];
            if (c == ']' && !first) { _at++; break; }
            first = false;
            _at++;
            IReadOnlyList<(int Lo, int Hi)> item = c == '\\' ? Escape(inClass: true) : [(c, c)];
            if (item.Count == 1 && item[0].Lo == item[0].Hi && Peek('-') && _at + 1 < _pattern.Length && _pattern[_at + 1] != ']')
            {
                _at++;
                char d = _pattern[_at++];
                IReadOnlyList<(int Lo, int Hi)> end = d == '\\' ? Escape(inClass: true) : [(d, d)];
                if (end.Count != 1 || end[0].Lo != end[0].Hi || end[0].Lo < item[0].Lo) throw Error("bad class range", "[a-z]");
                item = [(item[0].Lo, end[0].Lo)];
            }
            ranges.AddRange(item);
        }
        return negate ? Complement(ranges) : ranges;
    }

    private List<(int, int)> Escape(bool inClass)
    {
        if (_at >= _pattern.Length) throw Error("the pattern ends with a backslash");
        char c = _pattern[_at++];
        switch (c)
        {
            case 'd': return [.. Digits];
            case 'D': return Complement(Digits);
            case 'w': return [.. Word];
            case 'W': return Complement(Word);
            case 's': return [.. Space];
            case 'S': return Complement(Space);
            case 'n': return [('\n', '\n')];
            case 't': return [('\t', '\t')];
            case 'r': return [('\r', '\r')];
            case 'f': return [('\f', '\f')];
            case 'v': return [('\v', '\v')];
            case 'x': return [Single(Hex(2))];
            case 'u': return [Single(Hex(4))];
            case 'b' when inClass: return [('\b', '\b')];
            default:
                if (char.IsAsciiLetterOrDigit(c))
                    throw Error($"the escape '\\{c}' is not supported (backreferences, word boundaries and anchors cannot be compiled to an automaton)", "\\" + c);
                return [(c, c)];
        }
    }

    private static (int, int) Single(int cp) => (cp, cp);

    private int Hex(int digits)
    {
        if (_at + digits > _pattern.Length || !int.TryParse(_pattern.AsSpan(_at, digits), System.Globalization.NumberStyles.HexNumber, null, out var v))
            throw Error($"expected {digits} hex digits");
        _at += digits;
        return v;
    }

    /// <summary>All code points not in <paramref name="ranges"/>.</summary>
    private static List<(int, int)> Complement(IEnumerable<(int Lo, int Hi)> ranges)
    {
        var result = new List<(int, int)>();
        int next = 0;
        foreach (var (lo, hi) in ranges.OrderBy(r => r.Lo))
        {
            if (lo > next) result.Add((next, lo - 1));
            next = Math.Max(next, hi + 1);
        }
        if (next <= MaxCodePoint) result.Add((next, MaxCodePoint));
        return result;
    }
}
