using System.ClientModel;
using System.Text.Json;
using System.Text.Json.Nodes;
using InferenceServer.TestSupport;
using Json.Schema;
using OpenAI;
using OpenAI.Chat;

namespace InferenceServer.Server.Tests.ToolCalling;

/// <summary>
/// Tool calls through the official OpenAI .NET SDK and the official openai npm package (tests/node/tool-calls.mjs)
/// on each parser's fixture model: their typed accessors read tool_calls, the streamed tool-call deltas and refusal,
/// and the arguments validate against the function's schema (JsonSchema.Net).
/// </summary>
[Collection(ToolModelsCollection.Name)]
public sealed class ToolCallingSdkTests(ToolModelServers servers)
{
    private static readonly JsonSchema Weather = JsonSchema.FromText(ToolCallingServerTests.WeatherParameters);

    private ChatClient Client(string parser) => new(ServerFixture.Model, new ApiKeyCredential("x"),
        new OpenAIClientOptions { Endpoint = new Uri(servers.BaseUris[parser], "v1"), NetworkTimeout = TimeSpan.FromMinutes(2) });

    private static ChatCompletionOptions Options(ChatToolChoice choice, long seed)
    {
#pragma warning disable OPENAI001 // Seed is marked experimental in the SDK
        var options = new ChatCompletionOptions { ToolChoice = choice, Temperature = 1f, Seed = seed, MaxOutputTokenCount = 64 };
#pragma warning restore OPENAI001
        options.Tools.Add(ChatTool.CreateFunctionTool("get_weather", "Weather forecast", BinaryData.FromString(ToolCallingServerTests.WeatherParameters)));
        options.Tools.Add(ChatTool.CreateFunctionTool("get_time", null, BinaryData.FromString("""{"type":"object","properties":{"tz":{"type":"string"}},"required":["tz"]}""")));
        return options;
    }

    private static bool ValidWeather(string arguments)
    {
        using var doc = JsonDocument.Parse(arguments);
        return Weather.Evaluate(doc.RootElement).IsValid;
    }

    [Theory]
    [InlineData("hermes")]
    [InlineData("llama3_json")]
    [InlineData("mistral")]
    public async Task Dotnet_sdk_reads_forced_calls_streamed_and_not(string parser)
    {
        var ct = TestContext.Current.CancellationToken;
        List<ChatMessage> messages = [new UserChatMessage("What is the weather in Paris?")];
        ChatCompletion completion = await Client(parser).CompleteChatAsync(messages, Options(ChatToolChoice.CreateFunctionChoice("get_weather"), 31), ct);
        Assert.Null(completion.Refusal);
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        var call = Assert.Single(completion.ToolCalls);
        Assert.Equal(ChatToolCallKind.Function, call.Kind);
        Assert.Equal("get_weather", call.FunctionName);
        Assert.True(ValidWeather(call.FunctionArguments.ToString()), call.FunctionArguments.ToString());

        // Streamed: the SDK's updates carry the call's index, id, name and argument text.
        var arguments = new System.Text.StringBuilder();
        string? id = null, name = null;
        ChatFinishReason? finish = null;
        await foreach (var update in Client(parser).CompleteChatStreamingAsync(messages, Options(ChatToolChoice.CreateRequiredChoice(), 32), ct))
        {
            foreach (var t in update.ToolCallUpdates)
            {
                Assert.Equal(0, t.Index);
                id ??= t.ToolCallId;
                name ??= t.FunctionName;
                arguments.Append(t.FunctionArgumentsUpdate?.ToString());
            }
            finish ??= update.FinishReason;
        }
        Assert.Equal(ChatFinishReason.ToolCalls, finish);
        Assert.False(string.IsNullOrEmpty(id));
        Assert.Contains(name, new[] { "get_weather", "get_time" });
        using (JsonDocument.Parse(arguments.ToString())) { }
        if (name == "get_weather") Assert.True(ValidWeather(arguments.ToString()), arguments.ToString());

        // The SDK's own assistant message (from the completion) and a tool result go back through the template.
        messages.Add(new AssistantChatMessage(completion));
        messages.Add(new ToolChatMessage(call.Id, "{\"temperature\": 21}"));
        var options = Options(ChatToolChoice.CreateNoneChoice(), 33);
        options.MaxOutputTokenCount = 4;
        ChatCompletion followUp = await Client(parser).CompleteChatAsync(messages, options, ct);
        Assert.Empty(followUp.ToolCalls);
        Assert.Null(followUp.Refusal);
    }

    [Fact]
    public async Task Openai_npm_client_reads_tool_calls_for_every_parser()
    {
        var ct = TestContext.Current.CancellationToken;
        var (exit, stdout, stderr) = await NodeScript.RunAsync("tool-calls.mjs", new Dictionary<string, string>
        {
            ["SERVERS"] = JsonSerializer.Serialize(servers.BaseUris.ToDictionary(kv => kv.Key, kv => new Uri(kv.Value, "v1").ToString())),
            ["MODEL"] = ServerFixture.Model,
            ["TOOLS"] = ToolCallingServerTests.Tools().ToJsonString(),
        }, TimeSpan.FromMinutes(4), ct);
        Assert.True(exit == 0, $"node tool-calls.mjs exited {exit}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}");
        var calls = JsonNode.Parse(stdout)!["calls"]!.AsArray();
        Assert.Equal(6, calls.Count); // named and streamed-required, for each of the three parsers
        foreach (var c in calls)
        {
            var args = (string)c!["arguments"]!;
            using (JsonDocument.Parse(args)) { }
            if ((string?)c["name"] == "get_weather") Assert.True(ValidWeather(args), $"{c}");
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ToolModelsCollection : ICollectionFixture<ToolModelServers>
{
    public const string Name = "Tool models";
}
