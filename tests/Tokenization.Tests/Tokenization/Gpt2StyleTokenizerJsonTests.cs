using System.Text.Json;
using System.Text.Json.Nodes;
using InferenceServer.Tokenization;

namespace InferenceServer.Tokenization.Tests.Tokenization;

/// <summary>
/// A small hand-made GPT-2/OPT-style tokenizer.json (ByteLevel pre-tokenizer with its own regex, "a b" or
/// [a, b] merges, a TemplateProcessing BOS of "&lt;/s&gt;" as OPT has), to cover the paths Llama-3/Qwen don't use.
/// </summary>
public sealed class Gpt2StyleTokenizerJsonTests : IDisposable
{
    private const int Bos = 259;
    private readonly string _dir = Directory.CreateTempSubdirectory("gpt2-style-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static int Byte(char c) => c; // the vocab below gives each byte's character the byte's value as id

    private ByteLevelBpeTokenizer Write(bool pairMerges, bool addPrefixSpace)
    {
        var vocab = new JsonObject();
        for (var b = 0; b < 256; b++)
            vocab[ByteLevelAlphabet.Encode([(byte)b])] = b;
        vocab["Ġt"] = 256;
        vocab["he"] = 257;
        vocab["Ġthe"] = 258;
        (string, string)[] merges = [("Ġ", "t"), ("h", "e"), ("Ġt", "he")];
        var json = new JsonObject
        {
            ["added_tokens"] = new JsonArray(new JsonObject { ["id"] = Bos, ["content"] = "</s>", ["special"] = true }),
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = addPrefixSpace, ["use_regex"] = true },
            ["post_processor"] = JsonNode.Parse("""
                {"type": "TemplateProcessing",
                 "single": [{"SpecialToken": {"id": "</s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                 "special_tokens": {"</s>": {"id": "</s>", "ids": [259], "tokens": ["</s>"]}}}
                """),
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel" },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["vocab"] = vocab,
                ["merges"] = new JsonArray(merges.Select(m => pairMerges
                    ? (JsonNode)new JsonArray(m.Item1, m.Item2)
                    : JsonValue.Create($"{m.Item1} {m.Item2}")).ToArray()),
            },
        };
        var path = Path.Combine(_dir, "tokenizer.json");
        File.WriteAllText(path, json.ToJsonString());
        return ByteLevelBpeTokenizer.FromFile(path, new TokenizerConfig { EosToken = "</s>" });
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void BothMergeFormatsGiveTheSameIds(bool pairMerges)
    {
        var tokenizer = Write(pairMerges, addPrefixSpace: false);
        // "the" → t + he (no "t he" merge); " the" → Ġt + he → Ġthe.
        Assert.Equal([Bos, Byte('t'), 257, 258], tokenizer.Encode("the the"));
        Assert.Equal([Byte('t'), 257, 258], tokenizer.Encode("the the", addSpecialTokens: false));
        Assert.Equal(Bos, tokenizer.BosTokenId);
        Assert.Equal(Bos, tokenizer.EosTokenId);
        Assert.Equal("the the", tokenizer.Decode(tokenizer.Encode("the the")));
        Assert.Equal("</s>the the", tokenizer.Decode(tokenizer.Encode("the the"), skipSpecialTokens: false));
    }

    [Fact]
    public void AddPrefixSpaceTreatsTheFirstWordLikeTheOthers()
    {
        var tokenizer = Write(pairMerges: true, addPrefixSpace: true);
        Assert.Equal([258, 258], tokenizer.Encode("the the", addSpecialTokens: false));
    }

    [Fact]
    public void BytesWithoutMergesStaySingleBytes()
    {
        var tokenizer = Write(pairMerges: true, addPrefixSpace: false);
        var ids = tokenizer.Encode("it's  x\n", addSpecialTokens: false);
        Assert.Equal("it's  x\n", tokenizer.Decode(ids));
        Assert.Equal([Byte('i'), Byte('t'), Byte('\''), Byte('s'), Byte(' '), Byte(' '), Byte('x'), Byte('\n')], ids);
    }
}
