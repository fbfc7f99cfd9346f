using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;

namespace InferenceServer.Server.Tests.ToolCalling;

/// <summary>
/// Tool calling against the real server on the fixture models (one per parser, <see cref="ToolModelServers"/>), over
/// raw HTTP. tiny-llama's random weights never write tool-call syntax by themselves, so calls come from forced
/// tool_choice (required or a named function): the prompt ends with the parser's call opening and the output is
/// constrained to the call object, so the parser reads it and the arguments always satisfy the function's schema.
/// </summary>
[Collection(ToolModelsCollection.Name)]
public sealed class ToolCallingServerTests(ToolModelServers servers)
{
    internal const string WeatherParameters = """
        {"type":"object","properties":{"city":{"type":"string","description":"City name"},"unit":{"enum":["celsius","fahrenheit"]},"days":{"type":"integer"}},
         "required":["city","days"],"additionalProperties":false}
        """;

    internal static JsonArray Tools() =>
    [
        new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = "get_weather", ["description"] = "Weather forecast", ["parameters"] = JsonNode.Parse(WeatherParameters) } },
        new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = "get_time", ["parameters"] = JsonNode.Parse("""{"type":"object","properties":{"tz":{"type":"string"}},"required":["tz"]}""") } },
    ];

    private static JsonObject Body(JsonNode? toolChoice, int seed, bool stream = false) => new()
    {
        ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "What is the weather in Paris?" }),
        ["tools"] = Tools(),
        ["tool_choice"] = toolChoice,
        ["temperature"] = 1,
        ["seed"] = seed,
        ["max_tokens"] = 64,
        ["stream"] = stream,
    };

    private static JsonNode Named(string name) => new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = name } };

    private HttpClient Client(string parser) => new() { BaseAddress = servers.BaseUris[parser], Timeout = TimeSpan.FromMinutes(2) };

    private static void AssertValidArguments(string name, string arguments)
    {
        var schema = JsonSchema.FromText(name == "get_weather" ? WeatherParameters : """{"type":"object","properties":{"tz":{"type":"string"}},"required":["tz"]}""");
        using var doc = JsonDocument.Parse(arguments);
        Assert.True(schema.Evaluate(doc.RootElement).IsValid, $"{name} arguments {arguments} fail the schema");
    }

    private static void AssertId(string parser, string id)
    {
        if (parser == "mistral") Assert.Matches("^[A-Za-z0-9]{9}$", id);
        else Assert.StartsWith("chatcmpl-tool-", id);
    }

    [Theory]
    [InlineData("hermes")]
    [InlineData("llama3_json")]
    [InlineData("mistral")]
    public async Task Named_choice_gives_a_call_with_valid_arguments_for_every_seed(string parser)
    {
        using var http = Client(parser);
        for (int seed = 0; seed < 2; seed++)
        {
            var (status, body, _) = await Http.Post(http, "v1/chat/completions", Body(Named("get_weather"), seed).ToJsonString());
            Assert.True(status == 200, body?.ToJsonString());
            var choice = body!["choices"]![0]!;
            var message = choice["message"]!.AsObject();
            Assert.Equal("stop", (string?)choice["finish_reason"]); // a named choice is the caller's decision, as at OpenAI
            Assert.True(message.ContainsKey("refusal") && message["refusal"] is null);
            Assert.Null(message["content"]);
            var call = Assert.Single(message["tool_calls"]!.AsArray())!;
            Assert.Equal("function", (string?)call["type"]);
            AssertId(parser, (string)call["id"]!);
            Assert.Equal("get_weather", (string?)call["function"]!["name"]);
            AssertValidArguments("get_weather", (string)call["function"]!["arguments"]!);
        }
    }

    [Theory]
    [InlineData("hermes")]
    [InlineData("llama3_json")]
    [InlineData("mistral")]
    public async Task Required_choice_streams_tool_call_deltas_that_match_the_whole_response(string parser)
    {
        using var http = Client(parser);
        var (_, whole, _) = await Http.Post(http, "v1/chat/completions", Body("required", 11).ToJsonString());
        var wholeCall = whole!["choices"]![0]!["message"]!["tool_calls"]![0]!;
        Assert.Equal("tool_calls", (string?)whole["choices"]![0]!["finish_reason"]);

        var events = await Http.PostSse(http, "v1/chat/completions", Body("required", 11, stream: true));
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonNode.Parse(e)!).ToList();
        var deltas = chunks.Select(c => c["choices"]![0]!["delta"]!).ToList();
        Assert.Equal("assistant", (string?)deltas[0]["role"]);
        var toolDeltas = deltas.Where(d => d["tool_calls"] is not null).SelectMany(d => d["tool_calls"]!.AsArray()).ToList();
        var first = Assert.Single(toolDeltas)!;
        Assert.Equal(0, (int)first["index"]!);
        Assert.Equal("function", (string?)first["type"]);
        AssertId(parser, (string)first["id"]!);
        // Same seed, same output: the streamed call is the whole response's call.
        Assert.Equal((string?)wholeCall["function"]!["name"], (string?)first["function"]!["name"]);
        Assert.Equal((string?)wholeCall["function"]!["arguments"], (string?)first["function"]!["arguments"]);
        AssertValidArguments((string)first["function"]!["name"]!, (string)first["function"]!["arguments"]!);
        Assert.DoesNotContain(deltas, d => d["content"] is JsonValue v && ((string?)v)!.Length > 0);
        Assert.Equal("tool_calls", (string?)chunks[^1]["choices"]![0]!["finish_reason"]);
    }

    /// <summary>The call goes back as an assistant message and its result as a tool message, through each template.</summary>
    [Theory]
    [InlineData("hermes")]
    [InlineData("llama3_json")]
    [InlineData("mistral")]
    public async Task A_call_and_its_result_flow_back_through_the_template(string parser)
    {
        using var http = Client(parser);
        var (_, first, _) = await Http.Post(http, "v1/chat/completions", Body(Named("get_time"), 3).ToJsonString());
        var message = first!["choices"]![0]!["message"]!.DeepClone().AsObject();
        var call = message["tool_calls"]![0]!;
        var body = Body("none", 3);
        body["max_tokens"] = 4;
        body["messages"]!.AsArray().Add(message);
        body["messages"]!.AsArray().Add(new JsonObject { ["role"] = "tool", ["tool_call_id"] = (string)call["id"]!, ["content"] = "{\"time\": \"09:00\"}" });
        var (status, second, _) = await Http.Post(http, "v1/chat/completions", body.ToJsonString());
        Assert.True(status == 200, second?.ToJsonString());
        Assert.Null(second!["choices"]![0]!["message"]!["tool_calls"]);
        Assert.IsType<string>((string?)second["choices"]![0]!["message"]!["content"]);
    }

    /// <summary>auto with a parser: the random model writes text, which comes back as content (stream and not), finish "stop"/"length".</summary>
    [Theory]
    [InlineData("hermes")]
    [InlineData("llama3_json")]
    [InlineData("mistral")]
    public async Task Auto_returns_the_models_text_as_content_when_it_calls_nothing(string parser)
    {
        using var http = Client(parser);
        var body = Body(null, 5);
        body["max_tokens"] = 12;
        body["ignore_eos"] = true;
        var (status, whole, _) = await Http.Post(http, "v1/chat/completions", body.ToJsonString());
        Assert.Equal(200, status);
        var message = whole!["choices"]![0]!["message"]!;
        string content = (string)message["content"]!;
        Assert.Null(message["tool_calls"]);
        Assert.Equal("length", (string?)whole["choices"]![0]!["finish_reason"]);

        body["stream"] = true;
        var events = await Http.PostSse(http, "v1/chat/completions", body);
        var text = string.Concat(events[..^1].Select(e => (string?)JsonNode.Parse(e)!["choices"]![0]!["delta"]!["content"] ?? ""));
        Assert.Equal(content, text);
    }

    [Fact]
    public async Task Tool_choice_errors_are_400s_naming_the_field()
    {
        using var http = Client("hermes");
        async Task Expect400(JsonObject body, string param, Uri? baseUri = null)
        {
            using var client = new HttpClient { BaseAddress = baseUri ?? servers.BaseUris["hermes"] };
            var (status, error, _) = await Http.Post(client, "v1/chat/completions", body.ToJsonString());
            Assert.True(status == 400, $"{body.ToJsonString()} → {status} {error?.ToJsonString()}");
            Assert.Equal(param, (string?)error!["error"]!["param"]);
        }
        await Expect400(Body(Named("send_email"), 0), "tool_choice");
        await Expect400(Body("sometimes", 0), "tool_choice");
        var noTools = Body("required", 0);
        noTools.Remove("tools");
        await Expect400(noTools, "tool_choice");
        var badTool = Body("none", 0);
        badTool["tools"] = new JsonArray(new JsonObject { ["type"] = "function", ["function"] = new JsonObject { ["name"] = "has space" } });
        await Expect400(badTool, "tools");
        var unsupported = Body(Named("get_weather"), 0);
        unsupported["tools"]![0]!["function"]!["parameters"]!["properties"]!["days"]!["minimum"] = 1;
        await Expect400(unsupported, "tools");
        // A plain deployment (no --enable-auto-tool-choice): tools default to auto, which needs the flags, as in vLLM.
        await Expect400(Body(null, 0), "tool_choice", servers.PlainUri);
    }

    [Fact]
    public async Task A_plain_deployment_still_serves_forced_calls()
    {
        using var http = new HttpClient { BaseAddress = servers.PlainUri, Timeout = TimeSpan.FromMinutes(2) };
        var (status, body, _) = await Http.Post(http, "v1/chat/completions", Body(Named("get_weather"), 1).ToJsonString());
        Assert.True(status == 200, body?.ToJsonString());
        var call = body!["choices"]![0]!["message"]!["tool_calls"]![0]!;
        AssertValidArguments("get_weather", (string)call["function"]!["arguments"]!);
    }
}
