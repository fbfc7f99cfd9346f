namespace InferenceServer.Tokenization;

/// <summary>A model folder's tokenizer with its tokenizer_config.json (chat template, BOS/EOS names).</summary>
public sealed record LoadedTokenizer(ITokenizer Tokenizer, TokenizerConfig Config);

/// <summary>
/// Loads the tokenizer of an HF model folder: tokenizer.json when it holds a byte-level BPE (Llama-3, Qwen, GPT-2);
/// else tokenizer.model (SentencePiece BPE: Llama-2, Mistral) when present; else a tokenizer.json of the SentencePiece
/// kind (Metaspace, byte fallback) on its own, as many Llama-2- and Mistral-family checkpoints ship it.
/// chat_template.jinja, when present, replaces the config's chat template, as in transformers.
/// </summary>
public static class TokenizerLoader
{
    public const string TokenizerJson = "tokenizer.json";
    public const string SentencePieceModelFile = "tokenizer.model";
    public const string ConfigFile = "tokenizer_config.json";
    public const string ChatTemplateFile = "chat_template.jinja";

    public static LoadedTokenizer Load(string modelDir)
    {
        if (!Directory.Exists(modelDir))
            throw new TokenizerLoadException(modelDir, "model folder not found");

        var config = LoadConfig(modelDir);
        var jsonPath = Path.Combine(modelDir, TokenizerJson);
        var spPath = Path.Combine(modelDir, SentencePieceModelFile);

        if (File.Exists(jsonPath))
        {
            try
            {
                return new LoadedTokenizer(ByteLevelBpeTokenizer.FromFile(jsonPath, config), config);
            }
            catch (TokenizerLoadException e) when (e.InnerException is NotSupportedException && File.Exists(spPath))
            {
                // Not byte-level (e.g. Llama-2's Metaspace tokenizer.json): tokenizer.model describes the same tokenizer.
            }
            catch (TokenizerLoadException e) when (e.InnerException is NotSupportedException && IsMetaspace(jsonPath))
            {
                return new LoadedTokenizer(MetaspaceBpeTokenizer.FromFile(jsonPath, config), config);
            }
        }
        if (File.Exists(spPath))
            return new LoadedTokenizer(LoadSentencePiece(spPath, config), config);

        throw new TokenizerLoadException(modelDir, $"no {TokenizerJson} or {SentencePieceModelFile} in the model folder");
    }

    private static bool IsMetaspace(string jsonPath)
    {
        try
        {
            return MetaspaceBpeTokenizer.IsMetaspaceFile(jsonPath);
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new TokenizerLoadException(jsonPath, $"malformed tokenizer.json: {e.Message}", e);
        }
    }

    private static TokenizerConfig LoadConfig(string modelDir)
    {
        var configPath = Path.Combine(modelDir, ConfigFile);
        var config = File.Exists(configPath) ? TokenizerConfig.Load(configPath) : TokenizerConfig.Empty;
        var templatePath = Path.Combine(modelDir, ChatTemplateFile);
        return File.Exists(templatePath) ? config.WithChatTemplate(File.ReadAllText(templatePath)) : config;
    }

    private static SentencePieceBpeTokenizer LoadSentencePiece(string path, TokenizerConfig config) =>
        SentencePieceBpeTokenizer.FromFile(
            path,
            config.AddedTokens,
            addBos: config.AddBosToken ?? true,
            addEos: config.AddEosToken ?? false,
            // transformers treats a missing "legacy" as legacy=true (and warns about it).
            legacy: config.Legacy ?? true);
}
