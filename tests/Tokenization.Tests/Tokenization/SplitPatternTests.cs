using InferenceServer.Tokenization;

namespace InferenceServer.Tokenization.Tests.Tokenization;

public class SplitPatternTests
{
    private const string Llama3Pattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private static List<string> Split(SplitPattern pattern, string text)
    {
        var pieces = new List<string>();
        pattern.Split(text, pieces);
        return pieces;
    }

    [Fact]
    public void Gpt2PatternSplitsContractionsWordsAndSpaces()
    {
        // The space run leaves its last space to the following word.
        Assert.Equal(["it", "'s", " ", " x", "\n"], Split(SplitPattern.Gpt2, "it's  x\n"));
    }

    [Fact]
    public void AstralLettersAndDigitsCountAsOneCodePoint()
    {
        var pattern = new SplitPattern(Llama3Pattern, SplitBehavior.Isolated);
        // 𝐀𝐁 are letters (not two "other" surrogates each) and 𝟏𝟐𝟑𝟒 digits grouped three code points at a time.
        Assert.Equal(["x𝐀𝐁y", " ", "𝟏𝟐𝟑", "𝟒", " 🙂"], Split(pattern, "x𝐀𝐁y 𝟏𝟐𝟑𝟒 🙂"));
    }

    [Fact]
    public void IsolatedKeepsTextBetweenMatchesAndRemovedDropsDelimiters()
    {
        Assert.Equal(["a", "-", "b"], Split(SplitPattern.Literal("-", SplitBehavior.Isolated), "a-b"));
        Assert.Equal(["a", "b"], Split(SplitPattern.Literal("-", SplitBehavior.Removed), "a-b"));
        Assert.Equal(["a-", "b"], Split(SplitPattern.Literal("-", SplitBehavior.MergedWithPrevious), "a-b"));
        Assert.Equal(["a", "-b"], Split(SplitPattern.Literal("-", SplitBehavior.MergedWithNext), "a-b"));
    }
}
