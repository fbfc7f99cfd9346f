using System.Diagnostics.Metrics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using InferenceServer.Server.Hosting;
using InferenceServer.Server.Observability;
using InferenceServer.Server.Settings;
using InferenceServer.TestSupport;

namespace InferenceServer.Server.Tests;

/// <summary>
/// Client mistakes that reach deep into the server (lone surrogate escapes, a non-string content part type, bodies
/// Kestrel refuses), unknown routes and wrong methods, "tools": "x", and a repetition_penalty so small it overflows the
/// logits: each is a 4xx with OpenAI's error object, never a 500.
/// </summary>
public sealed class ClientMistakeTests(ServerFixture server)
{
    private const string Msgs = "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]";

    public static TheoryData<string, string, string?> LoneSurrogates() => new()
    {
        { "v1/completions", "{\"prompt\": \"a\\ud800b\", \"max_tokens\": 1}", "prompt" },
        { "v1/completions", "{\"prompt\": [\"ok\", \"\\udc00\"], \"max_tokens\": 1}", "prompt" },
        { "v1/completions", "{\"prompt\": \"x\", \"stop\": \"\\ud800\", \"max_tokens\": 1}", "stop" },
        { "v1/completions", "{\"prompt\": \"x\", \"stop\": [\"\\ud800\"], \"max_tokens\": 1}", "stop" },
        { "v1/completions", "{\"prompt\": \"x\", \"model\": \"\\ud800\"}", "model" },
        { "v1/completions", "{\"prompt\": \"x\", \"user\": \"\\ud800\", \"max_tokens\": 1}", "user" },
        { "v1/completions", "{\"prompt\": \"x\", \"\\ud800\": 1}", null },
        { "v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"\\ud800\"}], \"max_tokens\": 1}", "messages" },
        { "v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"\\udfff\"}]}], \"max_tokens\": 1}", "messages" },
        { "v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\",\"name\":\"\\ud800\"}], \"max_tokens\": 1}", "messages" },
        { "v1/chat/completions", "{\"messages\":[{\"role\":\"\\ud800\",\"content\":\"Hi\"}], \"max_tokens\": 1}", "messages" },
        { "tokenize", "{\"prompt\": \"\\ud800\"}", "prompt" },
        { "tokenize", "{\"messages\":[{\"role\":\"user\",\"content\":\"\\ud800\"}]}", "messages" },
    };

    [Theory]
    [MemberData(nameof(LoneSurrogates))]
    public async Task LoneSurrogateEscapeIsA400NamingTheField(string path, string json, string? param)
    {
        using var errors = new HttpErrorCounts();
        var (status, body, _) = await Http.Post(server.Http, path, json);
        AssertError(400, param, status, body);
        Assert.Contains("surrogate", body!["error"]!["message"]!.GetValue<string>());
        Assert.Equal(0, errors.Count("500"));
    }

    [Fact]
    public async Task ValidSurrogatePairEscapeIsAccepted()
    {
        var (status, _, _) = await Http.Post(server.Http, "tokenize", "{\"prompt\": \"\\ud83d\\ude00\"}");
        Assert.Equal(200, status);
    }

    public static TheoryData<string> BadContentPartTypes() => new()
    {
        "5", "null", "true", "[\"text\"]", "{\"t\": \"text\"}",
    };

    [Theory]
    [MemberData(nameof(BadContentPartTypes))]
    public async Task ContentPartTypeThatIsNotAStringIsA400(string type)
    {
        using var errors = new HttpErrorCounts();
        string json = "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":" + type + ",\"text\":\"x\"}]}], \"max_tokens\": 1}";
        var (status, body, _) = await Http.Post(server.Http, "v1/chat/completions", json);
        AssertError(400, "messages", status, body);
        (status, body, _) = await Http.Post(server.Http, "tokenize", json);
        AssertError(400, "messages", status, body);
        Assert.Equal(0, errors.Count("500"));
    }

    /// <summary>
    /// A body cut off before its Content-Length can only be noticed when the client closes its side, and Kestrel then
    /// tears the connection down, so no answer reaches the client; what is checked is the server's side. Kestrel reports
    /// either the abort (nothing to answer) or "unexpected end of request content" (BadHttpRequestException, which used
    /// to fall into the 500 path and about half the time does here): never a 500 now, always a 400 or nothing.
    /// </summary>
    [Fact]
    public async Task BodyCutOffBeforeContentLengthIsNeverA500()
    {
        using var errors = new HttpErrorCounts();
        string head = "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n";
        for (int i = 0; i < 10; i++)
        {
            string text = await RawTextAsync(server.BaseUri, head + "{\"prompt\": \"x\"", halfClose: true);
            Assert.True(text.Length == 0 || text.StartsWith("HTTP/1.1 400 ", StringComparison.Ordinal), text);
        }
        // The server finishes each request on its own time after the connection is gone.
        await Task.Delay(1000, TestContext.Current.CancellationToken);
        Assert.Equal(0, errors.Count("500"));
    }

    public static TheoryData<string> MalformedChunks() => new()
    {
        "zz\r\n{}\r\n0\r\n\r\n",                 // size that is not hex
        "5\r\n{\"prompt\": \"x\"}\r\n0\r\n\r\n", // chunk longer than its size
        "2\r\n{}XX0\r\n\r\n",                    // no CRLF after the chunk data
    };

    [Theory]
    [MemberData(nameof(MalformedChunks))]
    public async Task MalformedChunkedBodyIsA400(string chunks)
    {
        using var errors = new HttpErrorCounts();
        string head = "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        var (status, body) = await RawAsync(server.BaseUri, head + chunks, halfClose: false);
        AssertError(400, null, status, body);
        Assert.Equal(0, errors.Count("500"));
    }

    /// <summary>
    /// Kestrel's MinRequestBodyDataRate, tightened through configuration (Kestrel:Limits binds onto the server's
    /// Kestrel options) so that a body stalled after a few bytes times out in about a second.
    /// </summary>
    [Fact]
    public async Task BodyArrivingTooSlowlyIsA408()
    {
        using var errors = new HttpErrorCounts();
        var app = ServerHost.Build(server.Engine, new ServerSettings { ServedModelNames = [ServerFixture.Model], Host = "127.0.0.1", Port = 0, GrpcPort = 0 },
            ["--Logging:LogLevel:Default=Warning",
             "--Kestrel:Limits:MinRequestBodyDataRate:BytesPerSecond=1000",
             "--Kestrel:Limits:MinRequestBodyDataRate:GracePeriod=00:00:01"]);
        await using var _ = app;
        await app.StartAsync(TestContext.Current.CancellationToken);
        var (rest, _) = await BoundAddresses.RestAndGrpcAsync(app.Urls, TestContext.Current.CancellationToken);
        string head = "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n";
        var started = DateTime.UtcNow;
        var (status, body) = await RawAsync(rest, head + "{\"pro", halfClose: false);
        AssertError(408, null, status, body);
        Assert.Equal("request_timeout", body!["error"]!["code"]!.GetValue<string>());
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10));
        Assert.Equal(0, errors.Count("500"));
        await app.StopAsync(TestContext.Current.CancellationToken);
    }

    public static TheoryData<string, string, int, string> RouteErrors() => new()
    {
        { "POST", "v1/foo", 404, "Unknown request URL: POST /v1/foo" },
        { "GET", "v1/foo/bar", 404, "Unknown request URL: GET /v1/foo/bar" },
        { "GET", "nothing.txt", 404, "Unknown request URL: GET /nothing.txt" },
        { "GET", "v1/completions", 405, "Method GET is not allowed for /v1/completions" },
        { "DELETE", "v1/chat/completions", 405, "Method DELETE is not allowed for /v1/chat/completions" },
        { "POST", "v1/models", 405, "Method POST is not allowed for /v1/models" },
        { "POST", "health", 405, "Method POST is not allowed for /health" },
    };

    [Theory]
    [MemberData(nameof(RouteErrors))]
    public async Task UnknownRouteIs404AndWrongMethodIs405WithErrorObject(string method, string path, int expected, string message)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method != "GET") request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
        using var response = await server.Http.SendAsync(request, TestContext.Current.CancellationToken);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        AssertError(expected, null, (int)response.StatusCode, body);
        Assert.StartsWith(message, body!["error"]!["message"]!.GetValue<string>());
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        if (expected == 405) Assert.NotEmpty(response.Content.Headers.Allow);
    }

    [Fact]
    public async Task KnownRoutesAreUnaffected()
    {
        Assert.Equal(200, (int)(await server.Http.GetAsync("health", TestContext.Current.CancellationToken)).StatusCode);
        Assert.Equal(200, (int)(await server.Http.GetAsync("v1/models", TestContext.Current.CancellationToken)).StatusCode);
        // A 404 the API gives itself keeps its own error object.
        var (status, body, _) = await Http.Post(server.Http, "v1/completions", "{\"prompt\": \"x\", \"model\": \"nope\"}");
        AssertError(404, "model", status, body);
        Assert.Equal("model_not_found", body!["error"]!["code"]!.GetValue<string>());
    }

    public static TheoryData<string> WrongTools() => new() { "\"x\"", "5", "{}", "true" };

    [Theory]
    [MemberData(nameof(WrongTools))]
    public async Task ToolsThatIsNotAListIsA400NamingTools(string tools)
    {
        var (status, body, _) = await Http.Post(server.Http, "v1/chat/completions", "{" + Msgs + ", \"max_tokens\": 1, \"tools\": " + tools + "}");
        AssertError(400, "tools", status, body);
    }

    /// <summary>Tools default to tool_choice auto, which needs --enable-auto-tool-choice and --tool-call-parser (as in vLLM).</summary>
    [Fact]
    public async Task ToolsWithoutTheAutoFlagsAreRefusedAndEmptyOrNullToolsAccepted()
    {
        var (status, body, _) = await Http.Post(server.Http, "v1/chat/completions",
            "{" + Msgs + ", \"max_tokens\": 1, \"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\"}}]}");
        AssertError(400, "tool_choice", status, body);
        Assert.Contains("--enable-auto-tool-choice", body!["error"]!["message"]!.GetValue<string>());
        (status, _, _) = await Http.Post(server.Http, "v1/chat/completions", "{" + Msgs + ", \"max_tokens\": 1, \"tools\": []}");
        Assert.Equal(200, status);
        (status, _, _) = await Http.Post(server.Http, "v1/chat/completions", "{" + Msgs + ", \"max_tokens\": 1, \"tools\": null}");
        Assert.Equal(200, status);
    }

    public static TheoryData<string> BadRepetitionPenalties() => new() { "1e-38", "1e-7", "0", "-1", "1e-50", "1e39" };

    [Theory]
    [MemberData(nameof(BadRepetitionPenalties))]
    public async Task RepetitionPenaltyOutsideItsRangeIsA400NamingIt(string value)
    {
        foreach (var (path, start) in new[] { ("v1/completions", "\"prompt\": \"x\""), ("v1/chat/completions", Msgs) })
        {
            var (status, body, _) = await Http.Post(server.Http, path, "{" + start + ", \"max_tokens\": 1, \"repetition_penalty\": " + value + "}");
            AssertError(400, "repetition_penalty", status, body);
            Assert.Contains(">= 0.000001", body!["error"]!["message"]!.GetValue<string>());
        }
    }

    [Theory]
    [InlineData("0.000001")]
    [InlineData("0.5")]
    [InlineData("1.3")]
    [InlineData("1000")]
    public async Task RepetitionPenaltyInItsRangeIsServed(string value)
    {
        var (status, body, _) = await Http.Post(server.Http, "v1/completions", "{\"prompt\": \"the cat the cat\", \"max_tokens\": 4, \"temperature\": 0, \"repetition_penalty\": " + value + "}");
        Assert.Equal(200, status);
        Assert.Equal(4, body!["usage"]!["completion_tokens"]!.GetValue<int>());
    }

    private static void AssertError(int expectedStatus, string? param, int status, JsonNode? body)
    {
        Assert.Equal(expectedStatus, status);
        Assert.NotNull(body);
        var error = body["error"]!.AsObject();
        Assert.False(string.IsNullOrEmpty(error["message"]!.GetValue<string>()));
        Assert.Equal(expectedStatus >= 500 ? "server_error" : "invalid_request_error", error["type"]!.GetValue<string>());
        Assert.True(error.ContainsKey("param") && error.ContainsKey("code"));
        Assert.Equal(param, error["param"]?.GetValue<string>());
    }

    /// <summary>
    /// Sends raw bytes on a fresh connection (the malformed bodies HttpClient will not produce), optionally half-closes
    /// the sending side, and reads the one response: its status and parsed JSON body. Bounded by a 10 s timeout.
    /// </summary>
    private static async Task<(int Status, JsonNode? Body)> RawAsync(Uri baseUri, string request, bool halfClose)
    {
        string text = await RawTextAsync(baseUri, request, halfClose);
        int headerEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        Assert.True(headerEnd > 0, $"no HTTP response, got: '{text}'");
        int status = int.Parse(text.Split(' ', 3)[1]);
        string bodyText = text[(headerEnd + 4)..];
        if (text[..headerEnd].Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase)) bodyText = Unchunk(bodyText);
        JsonNode? body = null;
        try { body = JsonNode.Parse(bodyText); } catch (System.Text.Json.JsonException) { }
        return (status, body);
    }

    private static async Task<string> RawTextAsync(Uri baseUri, string request, bool halfClose)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        using var client = new TcpClient();
        await client.ConnectAsync(baseUri.Host, baseUri.Port, timeout.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request), timeout.Token);
        await stream.FlushAsync(timeout.Token);
        if (halfClose) client.Client.Shutdown(SocketShutdown.Send);
        var received = new MemoryStream();
        var buffer = new byte[4096];
        while (true)
        {
            int n;
            try
            {
                n = await stream.ReadAsync(buffer, timeout.Token);
            }
            catch (IOException) { break; }
            if (n == 0) break;
            received.Write(buffer, 0, n);
            if (Complete(received.ToArray())) break;
        }
        return Encoding.UTF8.GetString(received.ToArray());
    }

    /// <summary>The response is complete once its Content-Length bytes or its last chunk have arrived.</summary>
    private static bool Complete(byte[] bytes)
    {
        string text = Encoding.UTF8.GetString(bytes);
        int headerEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (headerEnd < 0) return false;
        string headers = text[..headerEnd];
        foreach (var line in headers.Split("\r\n"))
            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
                return bytes.Length - Encoding.UTF8.GetByteCount(text[..(headerEnd + 4)]) >= int.Parse(line["Content-Length:".Length..].Trim());
        return text.EndsWith("\r\n0\r\n\r\n", StringComparison.Ordinal);
    }

    private static string Unchunk(string chunked)
    {
        var sb = new StringBuilder();
        int i = 0;
        while (i < chunked.Length)
        {
            int lineEnd = chunked.IndexOf("\r\n", i, StringComparison.Ordinal);
            if (lineEnd < 0) break;
            int size = Convert.ToInt32(chunked[i..lineEnd].Split(';')[0], 16);
            if (size == 0) break;
            sb.Append(chunked, lineEnd + 2, size);
            i = lineEnd + 2 + size + 2;
        }
        return sb.ToString();
    }

    /// <summary>Counts inference_http_errors_total increments by code while alive (the counter is process-wide).</summary>
    private sealed class HttpErrorCounts : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly Dictionary<string, long> _counts = [];

        public HttpErrorCounts()
        {
            _listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == MetricNames.Meter && instrument.Name == MetricNames.HttpErrors) l.EnableMeasurementEvents(instrument);
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                foreach (var t in tags)
                    if (t.Key == "code" && t.Value is string code)
                        lock (_counts) _counts[code] = _counts.GetValueOrDefault(code) + value;
            });
            _listener.Start();
        }

        public long Count(string code)
        {
            lock (_counts) return _counts.GetValueOrDefault(code);
        }

        public void Dispose() => _listener.Dispose();
    }
}
