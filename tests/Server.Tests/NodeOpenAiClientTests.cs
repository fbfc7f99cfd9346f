using System.Text.Json;
using System.Text.Json.Nodes;
using InferenceServer.Server.Settings;
using InferenceServer.TestSupport;

namespace InferenceServer.Server.Tests;

/// <summary>
/// The official openai npm package (tests/node/openai-client.mjs) against the real server: a second client, in a
/// second language, over the same cases as the .NET SDK and raw HTTP tests.
/// </summary>
public sealed class NodeOpenAiClientTests(ServerFixture server)
{
    [Fact]
    public async Task Openai_npm_client_passes_every_case_and_greedy_text_matches_the_dotnet_path()
    {
        var ct = TestContext.Current.CancellationToken;
        using var reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoPaths.TinyLlama, "reference.json")));
        var prompts = reference.RootElement.GetProperty("prompts").EnumerateArray().Select(p => p.GetProperty("text").GetString()!).ToList();
        var expected = prompts.ToDictionary(p => p, p => CompletionsTests.ExpectedInContext(server.Engine.Tokenizer, p));

        // A second server on the same engine, with an API key, for the SDK's AuthenticationError case.
        var (authApp, authUri) = await server.StartServer(new ServerSettings { ServedModelNames = [ServerFixture.Model], ApiKey = "node-key" });
        int exit;
        string stdout, stderr;
        try
        {
            (exit, stdout, stderr) = await NodeScript.RunAsync("openai-client.mjs", new Dictionary<string, string>
            {
                ["BASE_URL"] = new Uri(server.BaseUri, "v1").ToString(),
                ["MODEL"] = ServerFixture.Model,
                ["EXPECTED_GREEDY"] = JsonSerializer.Serialize(expected),
                ["AUTH_BASE_URL"] = new Uri(authUri, "v1").ToString(),
                ["API_KEY"] = "node-key",
            }, TimeSpan.FromMinutes(4), ct);
        }
        finally
        {
            await authApp.StopAsync(ct);
            await authApp.DisposeAsync();
        }
        Assert.True(exit == 0, $"node openai-client.mjs exited {exit}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}");

        // The same greedy requests through .NET's HttpClient give the texts the npm client printed.
        var summary = JsonNode.Parse(stdout)!;
        Assert.True((int)summary["passed"]! >= 19, stdout);
        foreach (var prompt in prompts)
        {
            var (status, body, _) = await Http.Post(server.Http, "v1/completions",
                new { model = ServerFixture.Model, prompt, max_tokens = 24, temperature = 0, ignore_eos = true });
            Assert.Equal(200, status);
            Assert.Equal((string)body!["choices"]![0]!["text"]!, (string?)summary["greedy"]![prompt]);
        }
    }
}
