using System.Text.Json;
using InferenceServer.Server.ToolCalling;

namespace InferenceServer.Server.Tests.ToolCalling;

/// <summary>
/// The three parsers on outputs real models write. The Hermes/Qwen2.5 outputs follow Qwen's function-calling guide
/// (two calls, one per tag pair, newline inside the tags); the Llama-3.1 ones Meta's JSON tool-calling format (with and
/// without &lt;|python_tag|&gt;, "parameters" as the key); the Mistral ones are vLLM's own parser-test outputs of
/// Mistral-7B-Instruct-v0.3 (list form) and of the v11 tokenizer (name{...} form).
/// </summary>
public class ToolCallParserTests
{
    private static void AssertCall(ParsedToolCall call, string name, string argumentsJson)
    {
        Assert.Equal(name, call.Name);
        // Arguments are the model's JSON text; compare as JSON.
        Assert.True(JsonElement.DeepEquals(JsonDocument.Parse(argumentsJson).RootElement, JsonDocument.Parse(call.Arguments).RootElement),
            $"arguments {call.Arguments} differ from {argumentsJson}");
    }

    [Fact]
    public void HermesReadsQwenStyleCalls()
    {
        var output = "<tool_call>\n{\"name\": \"get_current_temperature\", \"arguments\": {\"location\": \"San Francisco, CA, USA\"}}\n</tool_call>\n"
                     + "<tool_call>\n{\"name\": \"get_temperature_date\", \"arguments\": {\"location\": \"San Francisco, CA, USA\", \"date\": \"2024-10-01\"}}\n</tool_call>";
        var (content, calls) = new HermesToolCallParser().Parse(output);
        Assert.Null(content);
        Assert.Equal(2, calls.Count);
        AssertCall(calls[0], "get_current_temperature", """{"location": "San Francisco, CA, USA"}""");
        AssertCall(calls[1], "get_temperature_date", """{"location": "San Francisco, CA, USA", "date": "2024-10-01"}""");
    }

    [Fact]
    public void HermesKeepsContentBeforeTheCallAndAcceptsAMissingCloseTag()
    {
        var (content, calls) = new HermesToolCallParser().Parse("Let me check.\n<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": \"</tool_call>\"}}");
        Assert.Equal("Let me check.\n", content);
        AssertCall(Assert.Single(calls), "f", """{"x": "</tool_call>"}""");
    }

    [Theory]
    [InlineData("Paris is sunny today.")]
    [InlineData("<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": 1}\n</tool_call>")] // unbalanced JSON
    [InlineData("<tool_call>\n{\"arguments\": {}}\n</tool_call>")] // no name
    [InlineData("<tool_call>\nnot json\n</tool_call>")]
    public void HermesOutputThatIsNotACallIsAllContent(string output)
    {
        var (content, calls) = new HermesToolCallParser().Parse(output);
        Assert.Equal(output, content);
        Assert.Empty(calls);
    }

    [Theory]
    [InlineData("{\"name\": \"get_current_conditions\", \"parameters\": {\"location\": \"San Francisco\", \"unit\": \"Fahrenheit\"}}")]
    [InlineData("<|python_tag|>{\"name\": \"get_current_conditions\", \"parameters\": {\"location\": \"San Francisco\", \"unit\": \"Fahrenheit\"}}")]
    [InlineData("  {\"name\": \"get_current_conditions\", \"arguments\": {\"location\": \"San Francisco\", \"unit\": \"Fahrenheit\"}}\n")]
    public void Llama3JsonReadsOneCall(string output)
    {
        var (content, calls) = new Llama3JsonToolCallParser().Parse(output);
        Assert.Null(content);
        AssertCall(Assert.Single(calls), "get_current_conditions", """{"location": "San Francisco", "unit": "Fahrenheit"}""");
    }

    [Fact]
    public void Llama3JsonReadsCallsSeparatedBySemicolons()
    {
        var (_, calls) = new Llama3JsonToolCallParser().Parse("{\"name\": \"searchTool\", \"parameters\": {\"query\": \"test\"}}; {\"name\": \"getOpenIncidentsTool\", \"parameters\": {}}");
        Assert.Equal(["searchTool", "getOpenIncidentsTool"], calls.Select(c => c.Name));
        AssertCall(calls[1], "getOpenIncidentsTool", "{}");
    }

    [Theory]
    [InlineData("The weather is {\"sunny\"}.")] // JSON later in the text is not a call: only the start counts
    [InlineData("{\"name\": \"f\", \"parameters\": {}} and then some words")]
    public void Llama3JsonTextIsContent(string output)
    {
        var (content, calls) = new Llama3JsonToolCallParser().Parse(output);
        Assert.Equal(output, content);
        Assert.Empty(calls);
    }

    [Fact]
    public void MistralReadsTheV03ListForm()
    {
        var parser = new MistralToolCallParser();
        var (content, calls) = parser.Parse("""[TOOL_CALLS] [{"name": "add", "arguments": {"a": 3.5, "b": 4}}, {"name": "get_current_weather", "arguments":{"city": "San Francisco", "state": "CA", "unit": "celsius"}}]""");
        Assert.Null(content);
        Assert.Equal(2, calls.Count);
        AssertCall(calls[0], "add", """{"a": 3.5, "b": 4}""");
        AssertCall(calls[1], "get_current_weather", """{"city": "San Francisco", "state": "CA", "unit": "celsius"}""");

        (content, calls) = parser.Parse("""Hello[TOOL_CALLS] [{"name": "add", "arguments":{"a": 1, "b": 2}}]""");
        Assert.Equal("Hello", content);
        AssertCall(Assert.Single(calls), "add", """{"a": 1, "b": 2}""");

        // vLLM ignores text after the closed list.
        (_, calls) = parser.Parse("[TOOL_CALLS] [{\"name\": \"get_current_weather\", \"arguments\":{\"city\": \"Dallas\", \"state\": \"TX\", \"unit\": \"fahrenheit\"}}]\nextra trailing data");
        AssertCall(Assert.Single(calls), "get_current_weather", """{"city": "Dallas", "state": "TX", "unit": "fahrenheit"}""");
    }

    [Fact]
    public void MistralReadsTheV11NamedForm()
    {
        var (content, calls) = new MistralToolCallParser().Parse("""[TOOL_CALLS]add{"a": 3.5, "b": 4}[TOOL_CALLS]multiply{"a": 3, "b": 6}""");
        Assert.Null(content);
        Assert.Equal(["add", "multiply"], calls.Select(c => c.Name));
        AssertCall(calls[1], "multiply", """{"a": 3, "b": 6}""");
    }

    [Fact]
    public void MistralIdsAreNineAlphanumerics()
    {
        var id = new MistralToolCallParser().NewCallId();
        Assert.Matches("^[A-Za-z0-9]{9}$", id);
        Assert.StartsWith("chatcmpl-tool-", new HermesToolCallParser().NewCallId());
    }

    /// <summary>Streaming in small pieces gives the same content and calls as parsing the whole output.</summary>
    [Theory]
    [InlineData("hermes", "I will call it.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Zürich\", \"note\": \"a } in text\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"tz\": \"UTC\"}}\n</tool_call>")]
    [InlineData("llama3_json", "<|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Zürich\"}}; {\"name\": \"get_time\", \"parameters\": {\"tz\": \"UTC\"}}")]
    [InlineData("mistral", "Sure.[TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Zürich\"}}, {\"name\": \"get_time\", \"arguments\": {\"tz\": \"UTC\"}}]")]
    [InlineData("hermes", "Just text with a < sign and <tool but no call.")]
    [InlineData("llama3_json", "  Plain answer.")]
    [InlineData("mistral", "Text with [TOOL_CALLS] not followed by a list")]
    public void StreamingMatchesWholeParse(string parserName, string output)
    {
        var parser = ToolCallParsers.Create(parserName)!;
        var whole = parser.Parse(output);
        foreach (var pieceLength in new[] { 1, 3, 7, output.Length })
        {
            var stream = new ToolCallStream(parser);
            var content = "";
            var calls = new List<ParsedToolCall>();
            for (var i = 0; i < output.Length; i += pieceLength)
            {
                var (c, fresh) = stream.Push(output.Substring(i, Math.Min(pieceLength, output.Length - i)));
                content += c;
                calls.AddRange(fresh);
            }
            content += stream.Finish();
            Assert.Equal(whole.Content ?? "", content);
            Assert.Equal(whole.Calls, calls);
        }
    }

    [Fact]
    public void UnknownParserNameIsNull()
    {
        Assert.Null(ToolCallParsers.Create("pythonic"));
        Assert.Equal(["hermes", "llama3_json", "mistral"], ToolCallParsers.Names);
    }
}
