using System.Text.Json;
using InferenceServer.Tokenization;
using InferenceServer.TestSupport;

namespace InferenceServer.Tokenization.Tests.Tokenization;

/// <summary>Llama-3 and Qwen3 tokenizer.json against the ids HF tokenizers (Rust) produced for the same text.</summary>
public class ByteLevelBpeTokenizerTests
{
    private static readonly Dictionary<string, Lazy<ByteLevelBpeTokenizer>> Tokenizers = new()
    {
        ["llama3"] = new(() => Load("llama3")),
        ["qwen3"] = new(() => Load("qwen3")),
    };

    internal static ByteLevelBpeTokenizer Get(string name)
    {
        RealTokenizers.Folder(name); // fails, naming the fetch script, when the files are missing
        return Tokenizers[name].Value;
    }

    private static ByteLevelBpeTokenizer Load(string name)
    {
        var dir = RealTokenizers.Folder(name);
        return ByteLevelBpeTokenizer.FromFile(Path.Combine(dir, "tokenizer.json"),
            TokenizerConfig.Load(Path.Combine(dir, "tokenizer_config.json")));
    }

    internal sealed record TrickyCase(string Text, int[] Ids, string Decoded);

    internal static (int[][] EvalLines, TrickyCase[] Tricky) Fixture(string name)
    {
        using var json = JsonDocument.Parse(File.ReadAllBytes(RepoPaths.Fixture("tokenizers", name + ".json")));
        var root = json.RootElement;
        Assert.False(root.GetProperty("add_special_tokens").GetBoolean());
        var lines = root.GetProperty("eval_lines").EnumerateArray()
            .Select(l => l.EnumerateArray().Select(e => e.GetInt32()).ToArray()).ToArray();
        var tricky = root.GetProperty("tricky").EnumerateArray().Select(t => new TrickyCase(
            t.GetProperty("text").GetString()!,
            t.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
            t.GetProperty("decoded").GetString()!)).ToArray();
        return (lines, tricky);
    }

    [Theory]
    [InlineData("llama3")]
    [InlineData("qwen3")]
    public void EveryEvalLineMatchesHfTokenizers(string name)
    {
        var tokenizer = Get(name);
        var (expected, _) = Fixture(name);
        var lines = EvalText.Lines.Where(l => l.Length > 0).ToArray();
        Assert.Equal(expected.Length, lines.Length);

        var mismatches = new List<string>();
        for (var i = 0; i < lines.Length; i++)
        {
            var ids = tokenizer.Encode(lines[i], addSpecialTokens: false);
            if (!expected[i].SequenceEqual(ids))
                mismatches.Add($"line {i}: expected [{string.Join(",", expected[i])}] got [{string.Join(",", ids)}]");
        }
        Assert.True(mismatches.Count == 0, $"{mismatches.Count} lines differ; {string.Join("\n", mismatches.Take(3))}");


        for (var i = 0; i < lines.Length; i += 7)
            Assert.Equal(lines[i], tokenizer.Decode(expected[i]));
    }

    [Theory]
    [InlineData("llama3")]
    [InlineData("qwen3")]
    public void TrickyStringsMatchHfTokenizers(string name)
    {
        var tokenizer = Get(name);
        var (_, tricky) = Fixture(name);
        Assert.Equal(32, tricky.Length);
        foreach (var c in tricky)
        {
            Assert.True(c.Ids.SequenceEqual(tokenizer.Encode(c.Text, addSpecialTokens: false)),
                $"{name} encode {JsonSerializer.Serialize(c.Text)}: expected [{string.Join(",", c.Ids)}] got [{string.Join(",", tokenizer.Encode(c.Text, false))}]");
            Assert.Equal(c.Decoded, tokenizer.Decode(c.Ids, skipSpecialTokens: false));
        }
    }

    [Fact]
    public void Llama3SpecialTokensAndConfig()
    {
        var tokenizer = Get("llama3");
        Assert.Equal(128000, tokenizer.BosTokenId);
        Assert.Equal(128001, tokenizer.EosTokenId);
        Assert.Equal(128256, tokenizer.VocabSize);
        Assert.Contains(128009, tokenizer.SpecialTokenIds);
        Assert.Equal("Ġthe", tokenizer.IdToToken(tokenizer.TokenToId("Ġthe")!.Value));
        var ids = tokenizer.Encode("<|begin_of_text|>hi<|eot_id|>", addSpecialTokens: false);
        Assert.Equal("hi", tokenizer.Decode(ids, skipSpecialTokens: true));
    }

    [Fact]
    public void Qwen3ChatMarkersAreSpecialTokens()
    {
        var tokenizer = Get("qwen3");
        var ids = tokenizer.Encode("<|im_start|>user\nhi<|im_end|>", addSpecialTokens: false);
        Assert.Equal(151644, ids[0]);
        Assert.Equal(151645, ids[^1]);
        Assert.Equal(151645, tokenizer.EosTokenId);
        Assert.Null(tokenizer.BosTokenId);
        Assert.Equal(ids, tokenizer.Encode("<|im_start|>user\nhi<|im_end|>", addSpecialTokens: true));
        Assert.Equal("user\nhi", tokenizer.Decode(ids));
    }

    [Fact]
    public void AstralLettersAndDigitsAreOneCharacterForTheSplitRegex()
    {
        // 𝐀 (U+1D400) is a letter and 𝟏 (U+1D7CF) a digit; .NET sees each as two UTF-16 surrogates.
        var tokenizer = Get("llama3");
        const string text = "x𝐀𝐁y 𝟏𝟐𝟑𝟒 𠀀字";
        var ids = tokenizer.Encode(text, addSpecialTokens: false);
        Assert.Equal(text, tokenizer.Decode(ids));
    }
}
