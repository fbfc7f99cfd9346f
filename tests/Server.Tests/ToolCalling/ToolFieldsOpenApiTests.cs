using System.Text.Json.Nodes;

namespace InferenceServer.Server.Tests.ToolCalling;

/// <summary>The OpenAPI document (which /docs renders) describes the tool-calling request fields and the message's tool_calls and refusal.</summary>
public sealed class ToolFieldsOpenApiTests(ServerFixture server)
{
    [Fact]
    public async Task Document_describes_tool_fields()
    {
        var ct = TestContext.Current.CancellationToken;
        var doc = JsonNode.Parse(await server.Http.GetStringAsync("openapi/v1.json", ct))!;
        var schemas = doc["components"]!["schemas"]!;
        var chat = doc["paths"]!["/v1/chat/completions"]!["post"]!;
        string requestRef = (string)chat["requestBody"]!["content"]!["application/json"]!["schema"]!["$ref"]!;
        var request = schemas[requestRef.Split('/')[^1]]!["properties"]!.AsObject();
        foreach (var field in new[] { "tools", "tool_choice", "parallel_tool_calls" })
            Assert.True(request.ContainsKey(field), $"request field {field} is missing");
        // JSON-valued fields are references to the any-JSON schema, whose siblings OpenAPI 3.0 ignores; the plain one carries its text.
        Assert.False(string.IsNullOrEmpty((string?)request["parallel_tool_calls"]!["description"]));
        var message = schemas["ChatRequestMessage"]!["properties"]!.AsObject();
        Assert.True(message.ContainsKey("tool_calls") && message.ContainsKey("tool_call_id"));
        var response = schemas["ChatMessage"]!["properties"]!.AsObject();
        Assert.True(response.ContainsKey("refusal") && response.ContainsKey("tool_calls"));
        Assert.False(string.IsNullOrEmpty((string?)response["refusal"]!["description"]));
        Assert.True(schemas["FunctionCall"]!["properties"]!.AsObject().ContainsKey("arguments"));
    }

    /// <summary>Without tools, a chat message still carries refusal: null and no tool_calls.</summary>
    [Fact]
    public async Task Plain_chat_message_has_a_null_refusal_and_no_tool_calls()
    {
        var (status, body, _) = await Http.Post(server.Http, "v1/chat/completions", new { messages = new[] { new { role = "user", content = "Hi" } }, max_tokens = 2 });
        Assert.Equal(200, status);
        var message = body!["choices"]![0]!["message"]!.AsObject();
        Assert.True(message.ContainsKey("refusal"));
        Assert.Null(message["refusal"]);
        Assert.False(message.ContainsKey("tool_calls"));
    }
}
