using InferenceServer.Tokenization;

namespace InferenceServer.Tokenization.Tests.Tokenization;

public class IncrementalDetokenizerTests
{
    private static (string Text, List<string> Deltas) Stream(ITokenizer tokenizer, IReadOnlyList<int> ids,
        IReadOnlyList<int>? prompt = null, bool skipSpecialTokens = true)
    {
        var detokenizer = new IncrementalDetokenizer(tokenizer, prompt, skipSpecialTokens);
        var deltas = ids.Select(detokenizer.Append).ToList();
        deltas.Add(detokenizer.Flush());
        return (string.Concat(deltas), deltas);
    }

    [Theory]
    [InlineData("llama3")]
    [InlineData("qwen3")]
    public void StreamingTrickyStringsEqualsFullDecode(string name)
    {
        var tokenizer = ByteLevelBpeTokenizerTests.Get(name);
        var (_, tricky) = ByteLevelBpeTokenizerTests.Fixture(name);
        foreach (var c in tricky)
        {
            var (text, deltas) = Stream(tokenizer, c.Ids, skipSpecialTokens: false);
            Assert.Equal(tokenizer.Decode(c.Ids, skipSpecialTokens: false), text);
            Assert.DoesNotContain(deltas, d => d.Contains('\uFFFD'));
        }
    }

    [Fact]
    public void EmojiSplitAcrossByteTokensIsHeldBackUntilComplete()
    {
        var tokenizer = ByteLevelBpeTokenizerTests.Get("llama3");
        var ids = tokenizer.Encode("🙂🚀👍🏽 emoji", addSpecialTokens: false);
        var (text, deltas) = Stream(tokenizer, ids);
        Assert.Equal("🙂🚀👍🏽 emoji", text);
        Assert.Contains("", deltas); // some tokens carry only part of a character
    }

    [Fact]
    public void SentencePieceByteFallbackEmojisStream()
    {
        var tokenizer = SentencePieceBpeTokenizerTests.Tokenizer;
        const string text = "Hi 🙂🚀 there, 中文 and café 👍🏽!";
        var ids = tokenizer.Encode(text, addSpecialTokens: false);
        var (streamed, deltas) = Stream(tokenizer, ids);
        Assert.Equal(tokenizer.Decode(ids), streamed);
        Assert.Equal(text, streamed);
        Assert.DoesNotContain(deltas, d => d.Contains('\uFFFD'));
    }

    [Fact]
    public void SentencePieceStreamsEvalLinesAndKeepsSpacesAfterTheFirstToken()
    {
        var tokenizer = SentencePieceBpeTokenizerTests.Tokenizer;
        foreach (var line in EvalText.Lines.Take(200))
        {
            var ids = tokenizer.Encode(line, addSpecialTokens: false);
            Assert.Equal(tokenizer.Decode(ids), Stream(tokenizer, ids).Text);
        }
    }

    [Fact]
    public void AfterAPromptTheFirstTokensLeadingSpaceIsKept()
    {
        var tokenizer = SentencePieceBpeTokenizerTests.Tokenizer;
        var prompt = tokenizer.Encode("The jury said that");
        var generated = tokenizer.Encode(" he was", addSpecialTokens: false).ToList(); // "▁he", "▁was"
        var (text, _) = Stream(tokenizer, generated, prompt);
        Assert.Equal(" he was", text);
        Assert.Equal("he was", Stream(tokenizer, generated).Text);
    }

    [Fact]
    public void SpecialTokensAreSkippedWhenAsked()
    {
        var tokenizer = SentencePieceBpeTokenizerTests.Tokenizer;
        var ids = tokenizer.Encode("Hello world").Append(2).ToList();
        Assert.Equal("Hello world", Stream(tokenizer, ids).Text);
        Assert.Equal("<s> Hello world</s>", Stream(tokenizer, ids, skipSpecialTokens: false).Text);
    }

    [Fact]
    public void FlushEmitsAnIncompleteCharacterAsReplacement()
    {
        var tokenizer = SentencePieceBpeTokenizerTests.Tokenizer;
        var detokenizer = new IncrementalDetokenizer(tokenizer);
        Assert.Equal("", detokenizer.Append(tokenizer.TokenToId("<0xF0>")!.Value));
        Assert.Equal("", detokenizer.Append(tokenizer.TokenToId("<0x9F>")!.Value));
        Assert.Equal("\uFFFD\uFFFD", detokenizer.Flush());
        Assert.Equal("", detokenizer.Flush());
    }
}
