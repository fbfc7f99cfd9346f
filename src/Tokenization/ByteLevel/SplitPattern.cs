using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace InferenceServer.Tokenization;

/// <summary>What a Split pre-tokenizer does with the matched delimiters (HF <c>SplitDelimiterBehavior</c>).</summary>
internal enum SplitBehavior
{
    Isolated,
    Removed,
    MergedWithPrevious,
    MergedWithNext,
}

/// <summary>
/// A pre-tokenizer regex (GPT-2, Llama-3, Qwen2 split patterns) run with .NET's engine but with the code-point
/// semantics of the Oniguruma engine HF tokenizers uses. .NET's <c>\s</c> is Unicode White_Space already, but
/// .NET matches UTF-16 units, so a letter outside the BMP (𝐀, 𠀀) would not be <c>\p{L}</c> and would count as
/// two characters in <c>\p{N}{1,3}</c>. We therefore match against a view of the text where each such code point
/// is one BMP stand-in of the same class, and map the match positions back.
/// </summary>
internal sealed class SplitPattern
{
    private const char LetterStandIn = 'A';     // \p{L}, and not a contraction letter (s t r v m l d)
    private const char NumberStandIn = '0';     // \p{N}
    private const char OtherStandIn = '\uE000'; // private use: neither letter, number nor space

    private readonly Regex _regex;
    private readonly SplitBehavior _behavior;

    public SplitPattern(string pattern, SplitBehavior behavior)
    {
        _regex = new Regex(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);
        _behavior = behavior;
    }

    public static SplitPattern Literal(string delimiter, SplitBehavior behavior) => new(Regex.Escape(delimiter), behavior);

    /// <summary>GPT-2's pattern, used by the ByteLevel pre-tokenizer when <c>use_regex</c> is true.</summary>
    public static readonly SplitPattern Gpt2 = new(
        @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+", SplitBehavior.Isolated);

    public void Split(string text, List<string> output)
    {
        var (view, toOriginal) = CodePointView(text);
        var start = 0; // start of the not-yet-emitted text, in view units
        foreach (Match match in _regex.Matches(view))
        {
            if (match.Length == 0)
                continue;
            var end = match.Index + match.Length;
            switch (_behavior)
            {
                case SplitBehavior.Isolated:
                    Emit(start, match.Index);
                    Emit(match.Index, end);
                    start = end;
                    break;
                case SplitBehavior.Removed:
                    Emit(start, match.Index);
                    start = end;
                    break;
                case SplitBehavior.MergedWithPrevious:
                    Emit(start, end);
                    start = end;
                    break;
                case SplitBehavior.MergedWithNext:
                    Emit(start, match.Index);
                    start = match.Index; // the delimiter opens the next piece
                    break;
            }
        }
        Emit(start, view.Length);

        void Emit(int from, int to)
        {
            if (to <= from)
                return;
            var a = toOriginal is null ? from : toOriginal[from];
            var b = toOriginal is null ? to : toOriginal[to];
            output.Add(text[a..b]);
        }
    }

    /// <summary>The text with one UTF-16 unit per code point, and the map from view offsets to text offsets.</summary>
    private static (string View, int[]? ToOriginal) CodePointView(string text)
    {
        if (!text.AsSpan().ContainsAnyInRange('\uD800', '\uDFFF'))
            return (text, null);
        var view = new StringBuilder(text.Length);
        var toOriginal = new List<int>(text.Length + 1);
        for (var i = 0; i < text.Length;)
        {
            toOriginal.Add(i);
            if (Rune.DecodeFromUtf16(text.AsSpan(i), out var rune, out var consumed) != System.Buffers.OperationStatus.Done)
            {
                view.Append(OtherStandIn); // a lone surrogate
                i += 1;
                continue;
            }
            view.Append(rune.IsBmp ? (char)rune.Value : StandIn(Rune.GetUnicodeCategory(rune)));
            i += consumed;
        }
        toOriginal.Add(text.Length);
        return (view.ToString(), toOriginal.ToArray());
    }

    private static char StandIn(UnicodeCategory category) => category switch
    {
        UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => LetterStandIn,
        UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => NumberStandIn,
        _ => OtherStandIn,
    };
}
