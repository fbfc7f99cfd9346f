using System.Text.Json.Nodes;

namespace InferenceServer.Server.Tests;

public sealed class OpenApiTests(ServerFixture server)
{
    [Fact]
    public async Task Document_lists_every_route_with_summary_and_schemas()
    {
        var ct = TestContext.Current.CancellationToken;
        using var response = await server.Http.GetAsync("openapi/v1.json", ct);
        Assert.Equal(200, (int)response.StatusCode);
        var doc = JsonNode.Parse(await response.Content.ReadAsStringAsync(ct))!;
        var paths = doc["paths"]!.AsObject();
        var expected = new (string Path, string Method)[]
        {
            ("/v1/completions", "post"), ("/v1/chat/completions", "post"), ("/v1/models", "get"),
            ("/tokenize", "post"), ("/detokenize", "post"), ("/health", "get"), ("/ready", "get"),
        };
        foreach (var (path, method) in expected)
        {
            var op = paths[path]?[method];
            Assert.True(op is not null, $"{method} {path} is not in the document");
            Assert.False(string.IsNullOrEmpty((string?)op["summary"]), $"{path} has no summary");
            Assert.NotNull(op["responses"]!["200"]);
        }
        Assert.False(paths.ContainsKey("/docs"));

        // Request and response bodies are described, in the API's snake_case, with the error object on failures.
        var schemas = doc["components"]!["schemas"]!;
        var completion = paths["/v1/completions"]!["post"]!;
        string requestRef = (string)completion["requestBody"]!["content"]!["application/json"]!["schema"]!["$ref"]!;
        var requestProps = schemas[requestRef.Split('/')[^1]]!["properties"]!.AsObject();
        Assert.True(requestProps.ContainsKey("prompt"));
        Assert.True(requestProps.ContainsKey("max_tokens"));
        Assert.True(requestProps.ContainsKey("ignore_eos"));
        // An integer, not "integer or numeric string": the server refuses numbers sent as strings.
        string maxTokensType = requestProps["max_tokens"]!["type"]!.ToJsonString();
        Assert.Contains("integer", maxTokensType);
        Assert.DoesNotContain("string", maxTokensType);
        Assert.NotNull(completion["responses"]!["400"]!["content"]!["application/json"]);
        var chatRequest = (string)paths["/v1/chat/completions"]!["post"]!["requestBody"]!["content"]!["application/json"]!["schema"]!["$ref"]!;
        Assert.True(schemas[chatRequest.Split('/')[^1]]!["properties"]!.AsObject().ContainsKey("messages"));
        var usage = schemas["Usage"]!["properties"]!.AsObject();
        Assert.True(usage.ContainsKey("prompt_tokens_details"));
        Assert.True(schemas["ErrorBody"]!["properties"]!.AsObject().ContainsKey("param"));
    }

    [Fact]
    public async Task Docs_page_is_self_contained_html_that_renders_the_document()
    {
        var ct = TestContext.Current.CancellationToken;
        using var response = await server.Http.GetAsync("docs", ct);
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        string html = await response.Content.ReadAsStringAsync(ct);
        Assert.Contains("/openapi/v1.json", html);
        Assert.Contains("<script>", html);
        // Offline machines: nothing may load from elsewhere.
        Assert.DoesNotContain("src=\"http", html);
        Assert.DoesNotContain("href=\"http", html);
        Assert.DoesNotContain("@import", html);
    }

    [Fact]
    public async Task Usage_reports_cached_prompt_tokens_on_both_routes()
    {
        var (s1, c, _) = await Http.Post(server.Http, "v1/completions", new { prompt = "The film was", max_tokens = 2, temperature = 0 });
        var (s2, chat, _) = await Http.Post(server.Http, "v1/chat/completions", new { messages = new[] { new { role = "user", content = "Hi" } }, max_tokens = 2 });
        Assert.Equal(200, s1);
        Assert.Equal(200, s2);
        foreach (var body in new[] { c!, chat! })
        {
            var usage = body["usage"]!;
            Assert.InRange((int)usage["prompt_tokens_details"]!["cached_tokens"]!, 0, (int)usage["prompt_tokens"]!);
        }
        var events = await Http.PostSse(server.Http, "v1/chat/completions", new
        {
            messages = new[] { new { role = "user", content = "Hi" } }, max_tokens = 2, stream = true, stream_options = new { include_usage = true },
        });
        Assert.NotNull(JsonNode.Parse(events[^2])!["usage"]!["prompt_tokens_details"]!["cached_tokens"]);
    }
}
