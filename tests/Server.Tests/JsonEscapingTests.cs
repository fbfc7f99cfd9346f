using System.Text;
using System.Text.Json.Nodes;

namespace InferenceServer.Server.Tests;

/// <summary>
/// Bodies are written as OpenAI writes them: plain UTF-8 with only what JSON requires escaped (no \u0027 for ',
/// no \u003C for &lt;), and a non-streaming body ends with a newline.
/// </summary>
public sealed class JsonEscapingTests(ServerFixture server)
{
    private const string Text = "It's <b>&</b> café 東京 😀 \"quoted\" back\\slash";

    private async Task<(int Status, string Raw)> PostRaw(string path, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await server.Http.PostAsync(path, content, TestContext.Current.CancellationToken);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task TextComesBackAsPlainUtf8()
    {
        var (status, raw) = await PostRaw("tokenize", new JsonObject { ["prompt"] = Text, ["add_special_tokens"] = false }.ToJsonString());
        Assert.Equal(200, status);
        var tokens = JsonNode.Parse(raw)!["tokens"]!.AsArray();
        (status, raw) = await PostRaw("detokenize", new JsonObject { ["tokens"] = tokens.DeepClone() }.ToJsonString());
        Assert.Equal(200, status);
        Assert.Equal(Text, JsonNode.Parse(raw)!["prompt"]!.GetValue<string>());
        // Only the quote and the backslash are escaped, as JSON requires.
        Assert.Contains("It's <b>&</b> café 東京 😀 \\\"quoted\\\" back\\\\slash", raw);
        Assert.DoesNotContain("\\u", raw);
        Assert.EndsWith("}\n", raw);
    }

    [Fact]
    public async Task ErrorObjectsQuoteTheClientsTextPlainly()
    {
        var (status, raw) = await PostRaw("v1/completions", "{\"model\": \"it's <mine>\", \"prompt\": \"x\"}");
        Assert.Equal(404, status);
        Assert.Contains("'it's <mine>'", raw);
        Assert.DoesNotContain("\\u", raw);
        Assert.EndsWith("}\n", raw);
    }

    [Fact]
    public async Task ControlCharactersUseTheShortEscapes()
    {
        var (status, raw) = await PostRaw("detokenize", "{\"tokens\": [13]}"); // <0x0A>: a newline by byte fallback
        Assert.Equal(200, status);
        Assert.Equal("\n", JsonNode.Parse(raw)!["prompt"]!.GetValue<string>());
        Assert.Contains("\"\\n\"", raw);
    }
}
