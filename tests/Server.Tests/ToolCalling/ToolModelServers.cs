using InferenceServer.Engine.Serving;
using InferenceServer.Server.Settings;
using InferenceServer.TestSupport;
using InferenceServer.Tokenization;
using Microsoft.AspNetCore.Builder;

namespace InferenceServer.Server.Tests.ToolCalling;

/// <summary>
/// Three fixture models whose templates support tools, each behind the real server with its parser: tiny-llama's
/// weights and tokenizer in a temporary model folder with a chat_template.jinja (which replaces the config's template,
/// as in transformers) from src/Assets/fixtures/chat-templates: Qwen2.5's with --tool-call-parser hermes, Llama-3.1's
/// with llama3_json, Mistral-7B-Instruct-v0.3's with mistral; all with --enable-auto-tool-choice. The tool prompts are
/// long (Llama-3.1 spells each tool out as indented JSON), so the context is 2048 tokens.
/// </summary>
public sealed class ToolModelServers : IAsyncLifetime
{
    public static readonly IReadOnlyDictionary<string, string> Templates = new Dictionary<string, string>
    {
        ["hermes"] = "qwen2.5-7b-instruct.jinja",
        ["llama3_json"] = "llama-3.1-8b-instruct.jinja",
        ["mistral"] = "mistral-7b-instruct-v0.3.jinja",
    };

    private readonly List<(LlmEngine Engine, WebApplication App)> _started = [];
    private readonly List<string> _folders = [];

    /// <summary>The REST base address of the server for each parser.</summary>
    public Dictionary<string, Uri> BaseUris { get; } = [];

    /// <summary>A server on the hermes fixture without --enable-auto-tool-choice or a parser, as a plain deployment.</summary>
    public Uri PlainUri { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        foreach (var (parser, template) in Templates)
            BaseUris[parser] = await Start(template, new ServerSettings { ServedModelNames = [ServerFixture.Model], ToolCallParser = parser, EnableAutoToolChoice = true });
        PlainUri = await Start(Templates["hermes"], new ServerSettings { ServedModelNames = [ServerFixture.Model] });
    }

    private async Task<Uri> Start(string template, ServerSettings settings)
    {
        var dir = Directory.CreateTempSubdirectory("tool-model-").FullName;
        _folders.Add(dir);
        foreach (var file in new[] { "config.json", "generation_config.json", "model.safetensors", "tokenizer.model", "tokenizer_config.json" })
            File.Copy(Path.Combine(RepoPaths.TinyLlama, file), Path.Combine(dir, file));
        File.Copy(RepoPaths.Fixture("chat-templates", template), Path.Combine(dir, TokenizerLoader.ChatTemplateFile));
        var engine = ServerFixture.StartEngine(new EngineOptions { MaxModelLen = 2048, NumKvBlocks = 512 }, dir);
        var (app, uri, _) = await ServerFixture.Start(engine, settings);
        _started.Add((engine, app));
        await Waits.HttpReadyAsync(uri, "ready", ServerFixture.ReadyTimeout);
        return uri;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (engine, app) in _started)
        {
            await app.StopAsync();
            await app.DisposeAsync();
            engine.Dispose();
        }
        foreach (var dir in _folders)
            Directory.Delete(dir, recursive: true);
    }
}
