using InferenceServer.Tokenization;
using InferenceServer.TestSupport;

namespace InferenceServer.Tokenization.Tests.Tokenization;

public sealed class TokenizerLoaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tokenizer-loader-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void TinyLlamaLoadsSentencePieceWithItsConfig()
    {
        var (tokenizer, config) = TokenizerLoader.Load(RepoPaths.TinyLlama);
        Assert.IsType<SentencePieceBpeTokenizer>(tokenizer);
        Assert.Equal("<s>", config.BosToken);
        Assert.Equal("</s>", config.EosToken);
        Assert.False(config.Legacy);
        Assert.Equal(2048, config.ModelMaxLength);
        Assert.StartsWith("{% if messages[0]['role'] == 'system' %}", config.ChatTemplate);
        Assert.Equal([1, 349, 447, 1263, 616, 329], tokenizer.Encode("The jury said that"));
        var chat = tokenizer.Encode("<s>[INST] hi [/INST]", addSpecialTokens: false);
        Assert.Equal(1, chat[0]);
        Assert.Equal("[", tokenizer.IdToToken(chat[1]));
    }

    [Fact]
    public void Llama3FolderLoadsByteLevelBpe()
    {
        var (tokenizer, config) = TokenizerLoader.Load(RealTokenizers.Folder("llama3"));
        Assert.IsType<ByteLevelBpeTokenizer>(tokenizer);
        Assert.Equal("<|begin_of_text|>", config.BosToken);
        Assert.Null(config.ModelMaxLength); // 1e30 means "unset"
        Assert.NotNull(config.ChatTemplate);
        Assert.Equal([9906, 1917, 0], tokenizer.Encode("Hello world!", addSpecialTokens: false));
    }

    [Fact]
    public void ChatTemplateJinjaOverridesTheConfig()
    {
        File.Copy(Path.Combine(RepoPaths.TinyLlama, "tokenizer.model"), Path.Combine(_dir, "tokenizer.model"));
        File.Copy(Path.Combine(RepoPaths.TinyLlama, "tokenizer_config.json"), Path.Combine(_dir, "tokenizer_config.json"));
        File.WriteAllText(Path.Combine(_dir, "chat_template.jinja"), "{{ messages }}");
        var (_, config) = TokenizerLoader.Load(_dir);
        Assert.Equal("{{ messages }}", config.ChatTemplate);
        Assert.Equal("{{ messages }}", config.ChatTemplates["default"]);
    }

    [Fact]
    public void WithoutAConfigDefaultsApply()
    {
        File.Copy(Path.Combine(RepoPaths.TinyLlama, "tokenizer.model"), Path.Combine(_dir, "tokenizer.model"));
        var (tokenizer, config) = TokenizerLoader.Load(_dir);
        Assert.Null(config.ChatTemplate);
        Assert.Equal(1, tokenizer.Encode("x")[0]);
    }

    [Fact]
    public void MissingFolderOrFilesNameWhatIsMissing()
    {
        var missing = Path.Combine(_dir, "nope");
        var e = Assert.Throws<TokenizerLoadException>(() => TokenizerLoader.Load(missing));
        Assert.Contains(missing, e.Message);

        e = Assert.Throws<TokenizerLoadException>(() => TokenizerLoader.Load(_dir));
        Assert.Contains("tokenizer.json", e.Message);
        Assert.Contains("tokenizer.model", e.Message);
    }

    [Fact]
    public void MalformedFilesNameTheFileAndTheProblem()
    {
        var configPath = Path.Combine(_dir, "tokenizer_config.json");
        File.WriteAllText(configPath, "{ not json");
        var e = Assert.Throws<TokenizerLoadException>(() => TokenizerLoader.Load(_dir));
        Assert.Equal(configPath, e.FilePath);
        Assert.Contains("invalid JSON", e.Message);

        File.WriteAllText(configPath, """{"bos_token": 5}""");
        e = Assert.Throws<TokenizerLoadException>(() => TokenizerLoader.Load(_dir));
        Assert.Contains("bos_token", e.Message);

        File.Delete(configPath);
        var jsonPath = Path.Combine(_dir, "tokenizer.json");
        File.WriteAllText(jsonPath, """{"model": {"type": "BPE"}}""");
        e = Assert.Throws<TokenizerLoadException>(() => TokenizerLoader.Load(_dir));
        Assert.Equal(jsonPath, e.FilePath);
        Assert.Contains("vocab", e.Message);

        File.WriteAllText(jsonPath, """{"model": {"type": "Unigram", "vocab": []}}""");
        e = Assert.Throws<TokenizerLoadException>(() => TokenizerLoader.Load(_dir));
        Assert.Contains("Unigram", e.Message);

        File.Delete(jsonPath);
        var spPath = Path.Combine(_dir, "tokenizer.model");
        File.WriteAllBytes(spPath, [0x0A, 0xFF, 0x01]);
        e = Assert.Throws<TokenizerLoadException>(() => TokenizerLoader.Load(_dir));
        Assert.Equal(spPath, e.FilePath);
    }

    [Fact]
    public void UnsupportedTokenizerJsonFallsBackToTokenizerModel()
    {
        File.Copy(Path.Combine(RepoPaths.TinyLlama, "tokenizer.model"), Path.Combine(_dir, "tokenizer.model"));
        File.WriteAllText(Path.Combine(_dir, "tokenizer.json"),
            """{"model": {"type": "BPE", "vocab": {}, "merges": []}, "pre_tokenizer": {"type": "Metaspace"}}""");
        Assert.IsType<SentencePieceBpeTokenizer>(TokenizerLoader.Load(_dir).Tokenizer);
    }
}
