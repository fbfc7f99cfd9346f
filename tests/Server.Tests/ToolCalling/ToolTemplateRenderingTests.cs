using System.Text.Json;
using System.Text.Json.Nodes;
using InferenceServer.Server.OpenAi;
using InferenceServer.Server.Settings;
using InferenceServer.TestSupport;
using InferenceServer.Tokenization;

namespace InferenceServer.Server.Tests.ToolCalling;

/// <summary>
/// Tools, assistant tool calls and tool results go through the request reader and the chat template exactly as the
/// reference renders them: src/Assets/fixtures/chat-templates/tool-cases.json, written by
/// tests/scripts/render-tool-templates.py with Python jinja2 set up as transformers' render_jinja_template sets it up,
/// fed what vLLM passes (tool objects as sent, arguments parsed into dicts, null content as ""). Templates: Qwen2.5
/// (Hermes syntax), Llama-3.1, Mistral-7B-Instruct-v0.3.
/// </summary>
public class ToolTemplateRenderingTests
{
    private static readonly Lazy<JsonNode> Cases = new(() =>
        JsonNode.Parse(File.ReadAllText(RepoPaths.Fixture("chat-templates", "tool-cases.json")))!);

    public static TheoryData<string, string> CaseNames()
    {
        var data = new TheoryData<string, string>();
        foreach (var c in Cases.Value["cases"]!.AsArray())
            data.Add(c!["template"]!.GetValue<string>(), c["conversation"]!.GetValue<string>());
        return data;
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void RendersAsTheReference(string template, string conversation)
    {
        var c = Cases.Value["cases"]!.AsArray().Single(x => x!["template"]!.GetValue<string>() == template && x["conversation"]!.GetValue<string>() == conversation)!;
        var body = new JsonObject
        {
            ["messages"] = Cases.Value["conversations"]![conversation]!.DeepClone(),
            ["tools"] = Cases.Value["tools"]!.DeepClone(),
            ["tool_choice"] = "none",
        };
        using var doc = JsonDocument.Parse(body.ToJsonString());
        var j = new RequestJson(doc.RootElement);
        var tools = ChatTools.Read(j, new ServerSettings())!;
        var config = new TokenizerConfig
        {
            ChatTemplate = File.ReadAllText(RepoPaths.Fixture("chat-templates", template)),
            BosToken = c["bos_token"]!.GetValue<string>(),
            EosToken = c["eos_token"]!.GetValue<string>(),
        };
        if (c["error"] is { } error)
        {
            var e = Assert.Throws<ApiException>(() => ChatPrompt.Render(config, j, addGenerationPrompt: true, tools.TemplateTools));
            Assert.Equal(400, e.Status);
            Assert.Contains(error.GetValue<string>(), e.Message);
            return;
        }
        Assert.Equal(c["rendered"]!.GetValue<string>(), ChatPrompt.Render(config, j, addGenerationPrompt: true, tools.TemplateTools));
    }

    [Fact]
    public void ArgumentsThatAreNotJsonAreA400NamingMessages()
    {
        using var doc = JsonDocument.Parse("""
            {"messages": [{"role": "user", "content": "hi"},
              {"role": "assistant", "content": null, "tool_calls": [{"id": "call00001", "type": "function", "function": {"name": "f", "arguments": "{not json"}}]}]}
            """);
        var config = new TokenizerConfig { ChatTemplate = File.ReadAllText(RepoPaths.Fixture("chat-templates", "qwen2.5-7b-instruct.jinja")) };
        var e = Assert.Throws<ApiException>(() => ChatPrompt.Render(config, new RequestJson(doc.RootElement), true, null));
        Assert.Equal("messages", e.Param);
        Assert.Contains("not valid JSON", e.Message);
    }
}
