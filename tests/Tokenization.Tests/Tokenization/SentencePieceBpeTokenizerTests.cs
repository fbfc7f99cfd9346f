using System.Text.Json;
using InferenceServer.Tokenization;
using InferenceServer.TestSupport;

namespace InferenceServer.Tokenization.Tests.Tokenization;

public class SentencePieceBpeTokenizerTests
{
    private static readonly Lazy<SentencePieceBpeTokenizer> TokenizerLazy =
        new(() => SentencePieceBpeTokenizer.FromFile(Path.Combine(RepoPaths.TinyLlama, "tokenizer.model")));

    internal static SentencePieceBpeTokenizer Tokenizer => TokenizerLazy.Value;

    [Fact]
    public void ReadsTheModelSpec()
    {
        var model = Tokenizer.Model;
        Assert.Equal(4096, Tokenizer.VocabSize);
        Assert.Equal(SentencePieceModel.BpeModelType, model.ModelType);
        Assert.True(model.ByteFallback);
        Assert.True(model.AddDummyPrefix);
        Assert.False(model.RemoveExtraWhitespaces);
        Assert.Equal(1, Tokenizer.BosTokenId);
        Assert.Equal(2, Tokenizer.EosTokenId);
        Assert.Equal("<0x0A>", Tokenizer.IdToToken(3 + 0x0A));
        Assert.Equal(1, Tokenizer.TokenToId("<s>"));
        Assert.Equal(new HashSet<int> { 0, 1, 2 }, Tokenizer.SpecialTokenIds);
    }

    [Fact]
    public void EveryEvalLineMatchesSentencePiece()
    {
        using var json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(RepoPaths.TinyLlama, "eval_token_ids.json")));
        var expected = json.RootElement.GetProperty("lines").EnumerateArray()
            .Select(l => l.EnumerateArray().Select(e => e.GetInt32()).ToArray()).ToArray();
        var lines = EvalText.Lines;
        Assert.Equal(expected.Length, lines.Length);

        var mismatches = new List<int>();
        for (var i = 0; i < lines.Length; i++)
        {
            // eval_token_ids.json holds <s> + tokens + </s>.
            var ids = Tokenizer.Encode(lines[i], addSpecialTokens: false);
            if (!expected[i].SequenceEqual([1, .. ids, 2]))
                mismatches.Add(i);
        }
        Assert.True(mismatches.Count == 0, $"{mismatches.Count} lines differ, first: {string.Join(",", mismatches.Take(5))}");

    }

    [Fact]
    public void EvalLinesRoundTrip()
    {
        foreach (var line in EvalText.Lines.Take(300))
            Assert.Equal(line, Tokenizer.Decode(Tokenizer.Encode(line)));
    }

    [Fact]
    public void ReferencePromptsEncodeAndGreedyTextDecodes()
    {
        using var json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(RepoPaths.TinyLlama, "reference.json")));
        var prompts = json.RootElement.GetProperty("prompts").EnumerateArray().ToList();
        Assert.Equal(6, prompts.Count);
        foreach (var prompt in prompts)
        {
            var ids = prompt.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            Assert.Equal(ids, Tokenizer.Encode(prompt.GetProperty("text").GetString()!));
            var greedy = prompt.GetProperty("greedy_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            Assert.Equal(prompt.GetProperty("greedy_text").GetString(), Tokenizer.Decode(greedy, skipSpecialTokens: true));
        }
    }

    [Fact]
    public void UnknownCharactersFallBackToBytesAndDecodeBack()
    {
        const string text = "emoji 🙂👍🏽 and 中文 ok";
        var ids = Tokenizer.Encode(text, addSpecialTokens: false);
        Assert.Contains(ids, id => Tokenizer.IdToToken(id)!.StartsWith("<0x", StringComparison.Ordinal));
        Assert.Equal(text, Tokenizer.Decode(ids));
    }

    [Fact]
    public void SpecialTokenStringsInTextBecomeTheirIds()
    {
        var ids = Tokenizer.Encode("<s>[INST] hi [/INST]", addSpecialTokens: false);
        Assert.Equal(1, ids[0]);
        // legacy=false (LlamaTokenizerFast): text right after a special token gets no dummy-prefix ▁.
        // Alone, the text starts with a lone "▁" (there is no "▁[" piece); after <s> that token is absent.
        var alone = Tokenizer.Encode("[INST] hi [/INST]", addSpecialTokens: false);
        Assert.Equal("▁", Tokenizer.IdToToken(alone[0]));
        Assert.Equal(alone.Skip(1), ids.Skip(1));
        Assert.Equal("[", Tokenizer.IdToToken(ids[1]));
        Assert.Equal("<s>[INST] hi [/INST]", Tokenizer.Decode(ids, skipSpecialTokens: false));
    }

    [Fact]
    public void LeadingSpaceAndEmptyText()
    {
        Assert.Equal([1], Tokenizer.Encode(""));
        Assert.Empty(Tokenizer.Encode("", addSpecialTokens: false));
        // transformers (Metaspace, prepend_scheme "first"): a leading space is the ▁ itself, not an extra one,
        // and decoding drops it again.
        var ids = Tokenizer.Encode(" x", addSpecialTokens: false);
        Assert.Equal(Tokenizer.Encode("x", addSpecialTokens: false), ids);
        Assert.Equal("x", Tokenizer.Decode(ids));
    }

    [Fact]
    public void InvalidByteRunsDecodeToReplacementCharacters()
    {
        var partial = new[] { Tokenizer.TokenToId("<0xF0>")!.Value, Tokenizer.TokenToId("<0x9F>")!.Value };
        Assert.Equal("\uFFFD\uFFFD", Tokenizer.Decode(partial));
    }
}
