using System.Text;
using System.Text.Json.Nodes;
using InferenceServer.Server.Hosting;

namespace InferenceServer.Server.Tests;

public sealed class ErrorTests(ServerFixture server)
{
    private const string Msgs = "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]";

    public static TheoryData<string, string, int, string?> Bad() => new()
    {
        { "v1/completions", "{\"prompt\": \"x\", ", 400, null },
        { "v1/completions", "[1,2,3]", 400, null },
        { "v1/completions", "{\"prompt\": \"x\", \"max_tokens\": \"ten\"}", 400, "max_tokens" },
        { "v1/completions", "{\"prompt\": \"x\", \"max_tokens\": -5}", 400, "max_tokens" },
        { "v1/completions", "{\"prompt\": \"x\", \"max_tokens\": 2.5}", 400, "max_tokens" },
        { "v1/completions", "{\"prompt\": 42}", 400, "prompt" },
        { "v1/completions", "{}", 400, "prompt" },
        { "v1/completions", "{\"prompt\": [" + string.Join(",", Enumerable.Repeat(100, 300)) + "]}", 400, "prompt" },
        { "v1/completions", "{\"prompt\": [999999]}", 400, "prompt" },
        { "v1/completions", "{\"prompt\": \"x\", \"max_tokens\": 1000}", 400, "max_tokens" },
        { "v1/completions", "{\"prompt\": \"x\", \"temperature\": -1}", 400, "temperature" },
        { "v1/completions", "{\"prompt\": \"x\", \"top_p\": 0}", 400, "top_p" },
        { "v1/completions", "{\"prompt\": \"x\", \"logit_bias\": {\"5\": 150}}", 400, "logit_bias" },
        { "v1/completions", "{\"prompt\": \"x\", \"logit_bias\": {\"abc\": 1}}", 400, "logit_bias" },
        { "v1/completions", "{\"prompt\": \"x\", \"n\": 10000}", 400, "n" },
        { "v1/completions", "{\"prompt\": \"x\", \"suffix\": \"y\"}", 400, "suffix" },
        { "v1/completions", "{\"prompt\": \"x\", \"n\": 1, \"best_of\": 3}", 400, "best_of" },
        { "v1/completions", "{\"prompt\": \"x\", \"stop\": 5}", 400, "stop" },
        { "v1/completions", "{\"prompt\": \"x\", \"stream\": \"yes\"}", 400, "stream" },
        { "v1/completions", "{\"prompt\": \"x\", \"logprobs\": 50}", 400, "logprobs" },
        { "v1/completions", "{\"prompt\": \"x\", \"model\": \"gpt-17\"}", 404, "model" },
        { "v1/chat/completions", "{\"model\": \"tiny-llama\"}", 400, "messages" },
        { "v1/chat/completions", "{\"messages\": \"hi\"}", 400, "messages" },
        { "v1/chat/completions", "{" + Msgs + ", \"response_format\": {\"type\": \"json_object\"}}", 400, "response_format" },
        { "v1/chat/completions", "{" + Msgs + ", \"response_format\": {\"type\": \"json_schema\", \"json_schema\": {}}}", 400, "response_format" },
        { "v1/chat/completions", "{" + Msgs + ", \"top_logprobs\": 3}", 400, "top_logprobs" },
        { "v1/chat/completions", "{" + Msgs + ", \"max_completion_tokens\": 0}", 400, "max_completion_tokens" },
        { "v1/chat/completions", "{" + Msgs + ", \"model\": \"nope\"}", 404, "model" },
        { "detokenize", "{\"tokens\": [-1]}", 400, "tokens" },
    };

    [Theory]
    [MemberData(nameof(Bad))]
    public async Task Malformed_requests_get_an_error_object(string path, string json, int status, string? param)
    {
        var (got, body, _) = await Http.Post(server.Http, path, json);
        Assert.Equal(status, got);
        AssertError(body, param);
        await AssertStillServes();
    }

    [Fact]
    public async Task Body_over_the_limit_is_413()
    {
        string big = "{\"prompt\": \"" + new string('a', (int)ServerFixture.BodyLimit * 2) + "\"}";
        var (status, body, _) = await Http.Post(server.Http, "v1/completions", big);
        Assert.Equal(413, status);
        AssertError(body, null);
        await AssertStillServes();
    }

    [Fact]
    public async Task Api_key_is_required_when_set()
    {
        var (app, uri) = await server.StartServer(new ServerSettings { ApiKey = "sekrit" });
        try
        {
            using var http = new HttpClient { BaseAddress = uri };
            var (status, body, _) = await Http.Post(http, "v1/completions", "{\"prompt\": \"x\", \"max_tokens\": 1}");
            Assert.Equal(401, status);
            AssertError(body, null);
            http.DefaultRequestHeaders.Authorization = Http.Bearer("wrong");
            Assert.Equal(401, (await Http.Post(http, "v1/completions", "{\"prompt\": \"x\", \"max_tokens\": 1}")).Status);
            http.DefaultRequestHeaders.Authorization = Http.Bearer("sekrit");
            Assert.Equal(200, (await Http.Post(http, "v1/completions", "{\"prompt\": \"x\", \"max_tokens\": 1}")).Status);
            // Outside /v1 no key is needed (health probes).
            http.DefaultRequestHeaders.Authorization = null;
            Assert.Equal(200, (int)(await http.GetAsync("health", TestContext.Current.CancellationToken)).StatusCode);
        }
        finally
        {
            await app.StopAsync(TestContext.Current.CancellationToken);
            await app.DisposeAsync();
        }
    }

    private static void AssertError(JsonNode? body, string? param)
    {
        Assert.NotNull(body);
        var error = body["error"];
        Assert.NotNull(error);
        Assert.False(string.IsNullOrEmpty((string?)error["message"]));
        Assert.False(string.IsNullOrEmpty((string?)error["type"]));
        Assert.True(error.AsObject().ContainsKey("param"));
        Assert.True(error.AsObject().ContainsKey("code"));
        if (param != null) Assert.Equal(param, (string?)error["param"]);
    }

    private async Task AssertStillServes()
    {
        var (status, body, _) = await Http.Post(server.Http, "v1/completions", "{\"prompt\": \"The film was\", \"max_tokens\": 2, \"temperature\": 0}");
        Assert.Equal(200, status);
        Assert.NotNull(body!["choices"]![0]!["text"]);
    }
}
