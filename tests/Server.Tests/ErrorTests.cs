using System.Text;
using System.Text.Json.Nodes;
using InferenceServer.Server.Settings;

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
        { "v1/chat/completions", "{" + Msgs + ", \"response_format\": {\"type\": \"xml\"}}", 400, "response_format" },
        { "v1/chat/completions", "{" + Msgs + ", \"response_format\": {\"type\": \"json_schema\", \"json_schema\": {}}}", 400, "response_format" },
        { "v1/chat/completions", "{" + Msgs + ", \"top_logprobs\": 3}", 400, "top_logprobs" },
        { "v1/chat/completions", "{" + Msgs + ", \"max_completion_tokens\": 0}", 400, "max_completion_tokens" },
        { "v1/chat/completions", "{" + Msgs + ", \"model\": \"nope\"}", 404, "model" },
        { "detokenize", "{\"tokens\": [-1]}", 400, "tokens" },
        // The hostile-request sweep: bodies and values no client should send, each a 400 naming the field.
        { "v1/completions", "", 400, null },
        { "v1/completions", "null", 400, null },
        { "v1/completions", "{\"prompt\": \"x\", \"max_tokens\": 0}", 400, "max_tokens" },
        { "v1/completions", "{\"prompt\": \"x\", \"max_tokens\": 1e400}", 400, "max_tokens" },
        { "v1/completions", "{\"prompt\": [\"a\", 1]}", 400, "prompt" },
        { "v1/completions", "{\"prompt\": []}", 400, "prompt" },
        { "v1/completions", "{\"prompt\": \"x\", \"temperature\": \"hot\"}", 400, "temperature" },
        { "v1/completions", "{\"prompt\": \"x\", \"seed\": 1.5}", 400, "seed" },
        { "v1/completions", "{\"prompt\": \"x\", \"echo\": 1}", 400, "echo" },
        { "v1/completions", "{\"prompt\": \"x\", \"stop\": \"\"}", 400, "stop" },
        { "v1/completions", "{\"prompt\": \"x\", \"stop\": [\"a\", \"\"]}", 400, "stop" },
        { "v1/completions", "{\"prompt\": \"x\", \"stop\": [" + string.Join(",", Enumerable.Range(0, 100).Select(i => $"\"s{i}\"")) + "]}", 400, "stop" },
        { "v1/completions", "{\"prompt\": \"x\", \"logit_bias\": {\"5\": -101}}", 400, "logit_bias" },
        { "v1/completions", "{\"prompt\": \"x\", \"logit_bias\": {\"1.5\": 1}}", 400, "logit_bias" },
        { "v1/completions", "{\"prompt\": \"x\", \"logit_bias\": {\"999999\": 1}}", 400, "logit_bias" },
        { "v1/completions", "{\"prompt\": \"x\", \"logit_bias\": {\"5\": \"a\"}}", 400, "logit_bias" },
        { "v1/completions", "{\"prompt\": \"x\", \"stream_options\": {\"include_usage\": true}}", 400, "stream_options" },
        { "v1/completions", "{\"prompt\": \"x\", \"min_tokens\": 5, \"max_tokens\": 2}", 400, "min_tokens" },
        { "v1/completions", "{\"prompt\": \"x\", \"stop_token_ids\": [-1]}", 400, "stop_token_ids" },
        { "v1/completions", "{\"prompt\": \"x\", \"top_k\": -5}", 400, "top_k" },
        { "v1/chat/completions", "{\"messages\": []}", 400, "messages" },
        { "v1/chat/completions", "{\"messages\": [\"hi\"]}", 400, "messages" },
        { "v1/chat/completions", "{\"messages\": [{\"content\": \"hi\"}]}", 400, "messages" },
        { "v1/chat/completions", "{\"messages\": [{\"role\": \"wizard\", \"content\": \"hi\"}]}", 400, "messages" },
        { "v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": 5}]}", 400, "messages" },
        { "v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\", \"image_url\": {\"url\": \"x\"}}]}]}", 400, "messages" },
        { "v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": \"" + string.Concat(Enumerable.Repeat("word ", 400)) + "\"}]}", 400, "messages" },
        { "v1/chat/completions", "{" + Msgs + ", \"temperature\": \"0.5\"}", 400, "temperature" },
        { "v1/chat/completions", "{" + Msgs + ", \"stream\": \"true\"}", 400, "stream" },
        { "v1/chat/completions", "{" + Msgs + ", \"seed\": 2.5}", 400, "seed" },
        { "v1/chat/completions", "{" + Msgs + ", \"logprobs\": true, \"top_logprobs\": 21}", 400, "top_logprobs" },
        { "v1/chat/completions", "{" + Msgs + ", \"max_tokens\": 0}", 400, "max_tokens" },
        { "v1/chat/completions", "{" + Msgs + ", \"n\": 10000}", 400, "n" },
        { "v1/chat/completions", "{" + Msgs + ", \"presence_penalty\": 3}", 400, "presence_penalty" },
        { "v1/chat/completions", "{" + Msgs + ", \"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\"}}]}", 400, "tool_choice" },
        { "v1/chat/completions", "{" + Msgs + ", \"tools\": [{\"type\": \"retrieval\"}], \"tool_choice\": \"none\"}", 400, "tools" },
        { "tokenize", "{}", 400, "prompt" },
        { "detokenize", "{\"tokens\": \"abc\"}", 400, "tokens" },
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
    public async Task Ten_megabyte_body_is_413()
    {
        var ct = TestContext.Current.CancellationToken;
        string big = "{\"prompt\": \"" + new string('a', 10 << 20) + "\"}";
        // Kestrel refuses on the declared Content-Length and closes the connection. Without Expect: 100-continue,
        // HttpClient would still be writing 10 MB into a closed socket and report a broken pipe instead of the 413
        // that came back; with it, the client waits for the verdict first, as curl does for large bodies.
        using var req = new HttpRequestMessage(HttpMethod.Post, "v1/completions") { Content = new StringContent(big, Encoding.UTF8, "application/json") };
        req.Headers.ExpectContinue = true;
        using var response = await server.Http.SendAsync(req, ct);
        Assert.Equal(413, (int)response.StatusCode);
        AssertError(JsonNode.Parse(await response.Content.ReadAsStringAsync(ct)), null);
        await AssertStillServes();
    }

    [Fact]
    public async Task Ten_megabyte_body_without_expect_continue_is_413_over_a_raw_socket()
    {
        // A client that just keeps writing: the 413 must still come back, read while the body is being sent.
        var ct = TestContext.Current.CancellationToken;
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(server.BaseUri.Host, server.BaseUri.Port, ct);
        var stream = tcp.GetStream();
        const int size = 10 << 20;
        var writer = Task.Run(async () =>
        {
            try
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes(
                    $"POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n"), ct);
                var chunk = Encoding.ASCII.GetBytes("{\"prompt\": \"" + new string('a', 64 * 1024 - 12));
                for (int sent = 0; sent < size; sent += chunk.Length) await stream.WriteAsync(chunk, ct);
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or ObjectDisposedException) { } // the server hung up (or the test closed the socket): expected
        }, ct);
        var received = new MemoryStream();
        var buffer = new byte[8192];
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer, ct)) > 0)
            {
                received.Write(buffer, 0, n);
                if (Encoding.ASCII.GetString(received.ToArray()).Contains("}}", StringComparison.Ordinal)) break;
            }
        }
        catch (IOException) { } // reset after the response: what was read is what counts
        string text = Encoding.UTF8.GetString(received.ToArray());
        Assert.StartsWith("HTTP/1.1 413", text);
        AssertError(JsonNode.Parse(text[text.IndexOf('{')..(text.LastIndexOf('}') + 1)]), null);
        tcp.Close();
        await writer;
        await AssertStillServes();
    }

    [Theory]
    [InlineData("[", "]")]
    [InlineData("{\"\":", "}")]
    public async Task Ten_thousand_levels_of_nesting_is_400_not_a_stack_overflow(string open, string close)
    {
        // System.Text.Json stops at depth 64 (RequestJson.MaxDepth) before any recursion could overflow the stack.
        string json = "{\"prompt\": " + string.Concat(Enumerable.Repeat(open, 10_000)) + "1" + string.Concat(Enumerable.Repeat(close, 10_000)) + "}";
        var (status, body, _) = await Http.Post(server.Http, "v1/completions", json);
        Assert.Equal(400, status);
        AssertError(body, null);
        Assert.Contains("depth", (string)body!["error"]!["message"]!);
        await AssertStillServes();
    }

    [Theory]
    [InlineData("v1/completions")]
    [InlineData("v1/chat/completions")]
    public async Task Invalid_utf8_is_400(string path)
    {
        // 0xFF never occurs in UTF-8; 0xC3 0x28 is a broken two-byte sequence.
        byte[] bytes = [.. "{\"prompt\": \"ab"u8, 0xFF, 0xC3, 0x28, .. "\", \"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}"u8];
        using var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new("application/json");
        using var response = await server.Http.PostAsync(path, content, TestContext.Current.CancellationToken);
        Assert.Equal(400, (int)response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        AssertError(body, null);
        Assert.Contains("UTF-8", (string)body!["error"]!["message"]!);
        await AssertStillServes();
    }

    /// <summary>
    /// Unknown top-level fields are ignored (and logged), as vLLM does; OpenAI would answer 400. See
    /// RequestJson.WarnUnknown for why. Known fields keep their type checks.
    /// </summary>
    [Fact]
    public async Task Unknown_top_level_fields_are_ignored_like_vllm()
    {
        const string plain = "{\"prompt\": \"The film was\", \"max_tokens\": 4, \"temperature\": 0}";
        const string extra = "{\"prompt\": \"The film was\", \"max_tokens\": 4, \"temperature\": 0, \"frobnicate\": {\"x\": [1]}, \"store\": true}";
        var (s1, a, _) = await Http.Post(server.Http, "v1/completions", plain);
        var (s2, b, _) = await Http.Post(server.Http, "v1/completions", extra);
        Assert.Equal(200, s1);
        Assert.Equal(200, s2);
        Assert.Equal((string)a!["choices"]![0]!["text"]!, (string)b!["choices"]![0]!["text"]!);
        var (s3, _, _) = await Http.Post(server.Http, "v1/chat/completions", "{" + Msgs + ", \"max_tokens\": 2, \"parallel_tool_calls\": false, \"metadata\": {}}");
        Assert.Equal(200, s3);
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
