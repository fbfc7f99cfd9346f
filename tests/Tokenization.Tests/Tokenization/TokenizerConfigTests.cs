using System.Text.Json;
using InferenceServer.Tokenization;

namespace InferenceServer.Tokenization.Tests.Tokenization;

public class TokenizerConfigTests
{
    private static TokenizerConfig Parse(string json)
    {
        using var document = JsonDocument.Parse(json);
        return TokenizerConfig.Parse(document.RootElement);
    }

    [Fact]
    public void SpecialTokensMayBeStringsOrObjects()
    {
        var config = Parse("""
            {"bos_token": {"__type": "AddedToken", "content": "<s>", "lstrip": false},
             "eos_token": "</s>", "unk_token": null, "add_bos_token": true, "add_eos_token": false}
            """);
        Assert.Equal("<s>", config.BosToken);
        Assert.Equal("</s>", config.EosToken);
        Assert.Null(config.UnkToken);
        Assert.Null(config.PadToken);
        Assert.True(config.AddBosToken);
        Assert.False(config.AddEosToken);
    }

    [Fact]
    public void ChatTemplateListPicksDefault()
    {
        var config = Parse("""
            {"chat_template": [{"name": "default", "template": "A"}, {"name": "tool_use", "template": "B"}]}
            """);
        Assert.Equal("A", config.ChatTemplate);
        Assert.Equal("B", config.ChatTemplates["tool_use"]);
    }

    [Fact]
    public void AddedTokensDecoderAndMaxLength()
    {
        var config = Parse("""
            {"model_max_length": 131072,
             "added_tokens_decoder": {
               "151645": {"content": "<|im_end|>", "lstrip": false, "normalized": false, "rstrip": false, "single_word": false, "special": true},
               "151643": {"content": "<|endoftext|>", "special": true}}}
            """);
        Assert.Equal(131072, config.ModelMaxLength);
        Assert.Equal([151643, 151645], config.AddedTokens.Select(t => t.Id));
        Assert.True(config.AddedTokens[1].Special);
        Assert.Equal("<|im_end|>", config.AddedTokens[1].Content);
    }

    [Fact]
    public void BadShapesAreRejected()
    {
        Assert.Throws<FormatException>(() => Parse("""{"chat_template": 3}"""));
        Assert.Throws<FormatException>(() => Parse("""{"chat_template": [{"name": "default"}]}"""));
        Assert.Throws<FormatException>(() => Parse("""{"added_tokens_decoder": {"x": {"content": "a"}}}"""));
        Assert.Throws<FormatException>(() => Parse("[]"));
    }
}
