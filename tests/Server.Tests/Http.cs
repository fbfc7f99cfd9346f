using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace InferenceServer.Server.Tests;

internal static class Http
{
    public static async Task<(int Status, JsonNode? Body, HttpResponseMessage Response)> Post(HttpClient http, string path, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        var response = await http.PostAsync(path, content, TestContext.Current.CancellationToken);
        string text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        JsonNode? body = null;
        try { body = JsonNode.Parse(text); } catch (JsonException) { }
        return ((int)response.StatusCode, body, response);
    }

    public static Task<(int Status, JsonNode? Body, HttpResponseMessage Response)> Post(HttpClient http, string path, object body) =>
        Post(http, path, JsonSerializer.Serialize(body));

    /// <summary>Reads an SSE response into its data payloads (the last one is "[DONE]").</summary>
    public static async Task<List<string>> PostSse(HttpClient http, string path, object body)
    {
        using var req = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json") };
        using var response = await http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead, TestContext.Current.CancellationToken);
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        string text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        var events = text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.All(events, e => Assert.StartsWith("data: ", e));
        return events.Select(e => e["data: ".Length..]).ToList();
    }

    public static AuthenticationHeaderValue Bearer(string key) => new("Bearer", key);
}
