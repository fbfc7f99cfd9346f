using System.ClientModel;
using System.Text.Json;
using System.Text.Json.Nodes;
using InferenceServer.TestSupport;
using Json.Schema;
using OpenAI;
using OpenAI.Chat;

namespace InferenceServer.Server.Tests;

/// <summary>
/// Structured outputs against the real server on tiny-llama, through the official OpenAI .NET SDK, the official
/// openai npm package (tests/node/structured-outputs.mjs) and raw HTTP. Outputs are validated with JsonSchema.Net.
/// </summary>
public sealed class StructuredOutputsClientTests(ServerFixture server)
{
    /// <summary>Nested objects, an enum with shared prefixes, an array, anyOf with a $ref: strict mode's features.</summary>
    internal const string PersonSchema = """
        {"type":"object","properties":{
          "name":{"type":"string"},"age":{"type":"integer"},"height":{"type":"number"},
          "mood":{"enum":["happy","happier","sad"]},"tags":{"type":"array","items":{"type":"string"}},
          "pet":{"anyOf":[{"type":"null"},{"$ref":"#/$defs/pet"}]}},
         "required":["name","age","height","mood","tags","pet"],"additionalProperties":false,
         "$defs":{"pet":{"type":"object","properties":{"kind":{"type":"string"},"legs":{"type":"integer"}},"required":["kind","legs"],"additionalProperties":false}}}
        """;

    /// <summary>The compact minimum of the schema is 76 bytes; 140 leaves room for content and the chat prompt in the 256-token context.</summary>
    private const int MaxTokens = 140;

    private ChatClient Client() => new(ServerFixture.Model, new ApiKeyCredential("x"),
        new OpenAIClientOptions { Endpoint = new Uri(server.BaseUri, "v1"), NetworkTimeout = TimeSpan.FromMinutes(2) });

    private static List<ChatMessage> Messages() => [new UserChatMessage("Describe a person as JSON.")];

    [Fact]
    public async Task Dotnet_sdk_strict_json_schema_over_20_seeds_always_validates()
    {
        var ct = TestContext.Current.CancellationToken;
        var schema = JsonSchema.FromText(PersonSchema);
        // All seeds at once: the engine batches them, so the masks are applied to a batch of constrained rows.
        var completions = await Task.WhenAll(Enumerable.Range(0, 20).Select(async seed =>
        {
#pragma warning disable OPENAI001 // Seed is marked experimental in the SDK
            var options = new ChatCompletionOptions
            {
                Temperature = 1f,
                Seed = seed,
                MaxOutputTokenCount = MaxTokens,
                ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat("person", BinaryData.FromString(PersonSchema), jsonSchemaIsStrict: true),
            };
#pragma warning restore OPENAI001
            return (Seed: seed, Completion: (ChatCompletion)await Client().CompleteChatAsync(Messages(), options, ct));
        }));
        foreach (var (seed, completion) in completions)
        {
            Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
            string text = completion.Content[0].Text;
            using var doc = JsonDocument.Parse(text);
            var result = schema.Evaluate(doc.RootElement);
            Assert.True(result.IsValid, $"seed {seed}: {text}");
        }
    }

    [Fact]
    public async Task Dotnet_sdk_json_object_gives_a_json_object_and_streams_the_same_text()
    {
        var ct = TestContext.Current.CancellationToken;
#pragma warning disable OPENAI001
        var options = new ChatCompletionOptions { Temperature = 1f, Seed = 7, MaxOutputTokenCount = 80, ResponseFormat = ChatResponseFormat.CreateJsonObjectFormat() };
#pragma warning restore OPENAI001
        ChatCompletion completion = await Client().CompleteChatAsync(Messages(), options, ct);
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        using var doc = JsonDocument.Parse(completion.Content[0].Text);
        Assert.Equal(JsonValueKind.Object, doc.RootElement.ValueKind);
        var streamed = new System.Text.StringBuilder();
        await foreach (var update in Client().CompleteChatStreamingAsync(Messages(), options, ct))
            foreach (var part in update.ContentUpdate) streamed.Append(part.Text);
        Assert.Equal(completion.Content[0].Text, streamed.ToString());
    }

    [Theory]
    [InlineData("v1/chat/completions")]
    [InlineData("v1/completions")]
    public async Task Guided_regex_and_choice_hold_on_both_routes(string route)
    {
        bool chat = route.Contains("chat");
        const string regex = @"\d{1,3}(\.\d{1,3}){3}";
        string[] choices = ["yes", "yesterday", "no"];
        for (int seed = 0; seed < 4; seed++)
        {
            var (status, body, _) = await Http.Post(server.Http, route, Body(chat, seed, new { guided_regex = regex }));
            Assert.Equal(200, status);
            string text = Text(body!, chat);
            Assert.Matches($"^{regex}$", text);
            (status, body, _) = await Http.Post(server.Http, route, Body(chat, seed, new { guided_choice = choices }));
            Assert.Equal(200, status);
            Assert.Contains(Text(body!, chat), choices);
            Assert.Equal("stop", (string?)body!["choices"]![0]!["finish_reason"]);
        }
    }

    [Fact]
    public async Task Guided_json_on_completions_validates()
    {
        var schema = JsonSchema.FromText(PersonSchema);
        for (int seed = 0; seed < 3; seed++)
        {
            var body = JsonNode.Parse($$"""{"model":"{{ServerFixture.Model}}","prompt":"A person:","temperature":1,"seed":{{seed}},"max_tokens":{{MaxTokens}},"guided_json":{{PersonSchema}}}""")!;
            var (status, response, _) = await Http.Post(server.Http, "v1/completions", body.ToJsonString());
            Assert.Equal(200, status);
            string text = (string)response!["choices"]![0]!["text"]!;
            using var doc = JsonDocument.Parse(text);
            Assert.True(schema.Evaluate(doc.RootElement).IsValid, text);
        }
    }

    [Theory]
    [InlineData("""{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"string","pattern":"a+"}}}""", "response_format", "pattern")]
    [InlineData("""{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object","properties":{"a":{"type":"array","items":{"type":"integer"},"minItems":2}}}}}""", "response_format", "minItems")]
    [InlineData("""{"type":"json_schema","json_schema":{"name":"x","schema":{"oneOf":[{"type":"string"}]}}}""", "response_format", "oneOf")]
    [InlineData("""{"type":"json_schema"}""", "response_format", "json_schema")]
    [InlineData("""{"type":"yaml"}""", "response_format", "yaml")]
    public async Task Unsupported_schema_is_a_400_naming_the_keyword(string responseFormat, string param, string named)
    {
        var body = $$"""{"model":"{{ServerFixture.Model}}","messages":[{"role":"user","content":"hi"}],"max_tokens":4,"response_format":{{responseFormat}}}""";
        var (status, response, _) = await Http.Post(server.Http, "v1/chat/completions", body);
        Assert.Equal(400, status);
        Assert.Equal(param, (string?)response!["error"]!["param"]);
        Assert.Equal("invalid_request_error", (string?)response["error"]!["type"]);
        Assert.Contains(named, (string?)response["error"]!["message"]);
    }

    [Theory]
    [InlineData("""{"guided_regex":"(a","max_tokens":4}""", "guided_regex")]
    [InlineData("""{"guided_choice":[],"max_tokens":4}""", "guided_choice")]
    [InlineData("""{"guided_json":"{not json","max_tokens":4}""", "guided_json")]
    [InlineData("""{"guided_json":{"type":"string"},"guided_regex":"a","max_tokens":4}""", "guided_regex")]
    public async Task Bad_guided_fields_are_400s(string fields, string param)
    {
        var body = JsonNode.Parse(fields)!.AsObject();
        body["model"] = ServerFixture.Model;
        body["prompt"] = "x";
        var (status, response, _) = await Http.Post(server.Http, "v1/completions", body.ToJsonString());
        Assert.Equal(400, status);
        Assert.Equal(param, (string?)response!["error"]!["param"]);
    }

    [Fact]
    public async Task Openai_npm_client_parses_strict_json_schema_and_holds_regex_and_choice()
    {
        var ct = TestContext.Current.CancellationToken;
        var (exit, stdout, stderr) = await NodeScript.RunAsync("structured-outputs.mjs", new Dictionary<string, string>
        {
            ["BASE_URL"] = new Uri(server.BaseUri, "v1").ToString(),
            ["MODEL"] = ServerFixture.Model,
            ["SCHEMA"] = PersonSchema,
            ["SEEDS"] = "20",
            ["MAX_TOKENS"] = MaxTokens.ToString(),
        }, TimeSpan.FromMinutes(4), ct);
        Assert.True(exit == 0, $"node structured-outputs.mjs exited {exit}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}");
        var parsed = JsonNode.Parse(stdout)!["parsed"]!.AsArray();
        Assert.Equal(20, parsed.Count);
        var schema = JsonSchema.FromText(PersonSchema);
        foreach (var value in parsed)
        {
            using var doc = JsonDocument.Parse(value!.ToJsonString());
            Assert.True(schema.Evaluate(doc.RootElement).IsValid, value.ToJsonString());
        }
    }

    private static string Body(bool chat, int seed, object guided)
    {
        var body = JsonSerializer.SerializeToNode(guided)!.AsObject();
        body["model"] = ServerFixture.Model;
        body["temperature"] = 1;
        body["seed"] = seed;
        body["max_tokens"] = 24;
        if (chat) body["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Answer." });
        else body["prompt"] = "Answer:";
        return body.ToJsonString();
    }

    private static string Text(JsonNode body, bool chat) =>
        chat ? (string)body["choices"]![0]!["message"]!["content"]! : (string)body["choices"]![0]!["text"]!;
}
