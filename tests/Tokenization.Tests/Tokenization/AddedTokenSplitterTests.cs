using InferenceServer.Tokenization;

namespace InferenceServer.Tokenization.Tests.Tokenization;

public class AddedTokenSplitterTests
{
    private static string Show(IEnumerable<TextSegment> segments) =>
        string.Join("|", segments.Select(s => s.IsToken ? $"#{s.Token!.Id}" : s.Text));

    [Fact]
    public void LeftmostMatchWinsAndTheLongestTokenThere()
    {
        var splitter = new AddedTokenSplitter([new AddedToken("<|a|>", 1, true), new AddedToken("<|a|>x", 2, true), new AddedToken("|", 3, false)]);
        Assert.Equal("q|#2|r|#1", Show(splitter.Split("q<|a|>xr<|a|>")));
        Assert.Equal("#3|b", Show(splitter.Split("|b")));
        Assert.Equal("plain text", Show(splitter.Split("plain text")));
    }

    [Fact]
    public void StripFlagsSwallowNeighbouringWhitespace()
    {
        var splitter = new AddedToken("<mask>", 9, true, LStrip: true, RStrip: true);
        Assert.Equal("a|#9|b", Show(new AddedTokenSplitter([splitter]).Split("a  <mask>\n b")));
        var plain = new AddedToken("<mask>", 9, true);
        Assert.Equal("a  |#9|\n b", Show(new AddedTokenSplitter([plain]).Split("a  <mask>\n b")));
    }

    [Fact]
    public void SingleWordTokensDoNotMatchInsideWords()
    {
        var splitter = new AddedTokenSplitter([new AddedToken("cat", 5, false, SingleWord: true)]);
        Assert.Equal("concatenate", Show(splitter.Split("concatenate")));
        Assert.Equal("a |#5|!", Show(splitter.Split("a cat!")));
    }
}
