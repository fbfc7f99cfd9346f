using System.Text.Json;
using InferenceServer.Tokenization;
using InferenceServer.Tokenization.Templates;
using InferenceServer.TestSupport;

namespace InferenceServer.Tokenization.Tests;

/// <summary>
/// The tokenizers trained for the HF fixtures (byte-level BPE for Qwen2/OPT/Llama-3 style, SentencePiece for
/// Mistral) against transformers' ids and decodes, and each fixture's chat template rendered and tokenized the
/// way transformers' apply_chat_template does.
/// </summary>
public sealed class HfFixtureTokenizerTests
{
    public static TheoryData<string> Fixtures => new("qwen2", "mistral", "opt", "opt-post-ln", "llama3-rope", "llama-linear-rope");

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void EncodeAndDecodeMatchTransformers(string name)
    {
        var (tokenizer, _) = TokenizerLoader.Load(RepoPaths.Fixture("hf", name));
        using var doc = Load(name);
        foreach (var c in doc.RootElement.GetProperty("tokenizer_cases").EnumerateArray())
        {
            var text = c.GetProperty("text").GetString()!;
            var ids = Ints(c.GetProperty("ids"));
            Assert.True(ids.SequenceEqual(tokenizer.Encode(text, addSpecialTokens: false)), $"{name}: ids of {JsonSerializer.Serialize(text)}");
            Assert.True(Ints(c.GetProperty("ids_with_special")).SequenceEqual(tokenizer.Encode(text, addSpecialTokens: true)), $"{name}: ids with specials of {JsonSerializer.Serialize(text)}");
            Assert.Equal(c.GetProperty("decoded").GetString(), tokenizer.Decode(ids, skipSpecialTokens: false));
        }
        foreach (var p in doc.RootElement.GetProperty("prompts").EnumerateArray())
            Assert.Equal(p.GetProperty("greedy_text").GetString(), tokenizer.Decode(Ints(p.GetProperty("greedy_ids"))));
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void ChatTemplateRendersAndTokenizesLikeTransformers(string name)
    {
        var (tokenizer, config) = TokenizerLoader.Load(RepoPaths.Fixture("hf", name));
        using var doc = Load(name);
        if (!doc.RootElement.TryGetProperty("chat_template_case", out var chat) || chat.ValueKind != JsonValueKind.Object)
            return; // fixtures without a chat template (OPT) record none
        var template = ChatTemplate.Parse(config.ChatTemplate!);
        var messages = TemplateValues.MessagesFromJson(chat.GetProperty("messages"));
        var rendered = template.RenderChat(messages, chat.GetProperty("add_generation_prompt").GetBoolean(), config.BosToken, config.EosToken);
        Assert.Equal(chat.GetProperty("rendered").GetString(), rendered);
        Assert.Equal(Ints(chat.GetProperty("ids")), tokenizer.Encode(rendered, addSpecialTokens: false));
    }

    private static JsonDocument Load(string name) =>
        JsonDocument.Parse(File.ReadAllText(RepoPaths.Fixture("hf", name, "reference.json")));

    private static int[] Ints(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt32()).ToArray();
}
