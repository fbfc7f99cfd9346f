using System.Text;
using System.Text.Json;
using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Serving;
using InferenceServer.Tokenization;
using InferenceServer.Tokenization.Templates;

namespace InferenceServer.Server.OpenAi;

/// <summary>Chat messages → the model's chat template → prompt token ids.</summary>
public static class ChatPrompt
{
    private static readonly Lock CacheLock = new();
    private static (string Source, ChatTemplate Template)? _cache;

    /// <summary>
    /// OpenAI's roles. vLLM passes any role string to the template, but a template meets an unknown role with
    /// undefined behaviour (often silently dropping the message), so an unknown role is a 400 here, as at OpenAI.
    /// </summary>
    private static readonly HashSet<string> Roles = new(StringComparer.Ordinal) { "system", "developer", "user", "assistant", "tool", "function" };

    /// <param name="tools">The request's tools as the template receives them (<see cref="ChatTools.TemplateTools"/>), or null.</param>
    /// <param name="assistantPrefix">Text the assistant's turn starts with (a forced tool call's opening), after the template's output.</param>
    public static IReadOnlyList<int> Encode(IInferenceEngine engine, RequestJson j, bool addGenerationPrompt = true, object? tools = null, string assistantPrefix = "")
    {
        var text = Render(engine.TokenizerConfig, j, addGenerationPrompt, tools) + assistantPrefix;
        // The template writes BOS itself; special-token strings in the text become their ids, no second BOS.
        return engine.Tokenizer.Encode(text, addSpecialTokens: false);
    }

    /// <summary>The request's messages (and tools) through the model's chat template, as text.</summary>
    public static string Render(TokenizerConfig config, RequestJson j, bool addGenerationPrompt, object? tools)
    {
        var messages = ReadMessages(j);
        var source = config.ChatTemplate
            ?? throw ApiException.BadRequest("This model has no chat template; use /v1/completions.", "messages");
        try
        {
            var extra = tools is null ? null : new Dictionary<string, object?> { ["tools"] = tools };
            return Template(source).RenderChat(messages, addGenerationPrompt, config.BosToken, config.EosToken, extra);
        }
        catch (TemplateRuntimeException e)
        {
            // Templates raise for conversations they do not accept (e.g. roles not alternating).
            throw ApiException.BadRequest($"The chat template rejected the messages: {e.Message}", "messages");
        }
    }

    private static ChatTemplate Template(string source)
    {
        lock (CacheLock)
        {
            if (_cache is { } c && ReferenceEquals(c.Source, source)) return c.Template;
            var t = ChatTemplate.Parse(source);
            _cache = (source, t);
            return t;
        }
    }

    /// <summary>Messages as the template sees them; content given as a list of text parts is joined into one string.</summary>
    private static List<IReadOnlyDictionary<string, object?>> ReadMessages(RequestJson j)
    {
        if (j.Get("messages") is not { } m) throw ApiException.BadRequest("messages is required.", "messages");
        if (m.ValueKind != JsonValueKind.Array) throw RequestJson.TypeError("messages", "a list of message objects");
        var list = new List<IReadOnlyDictionary<string, object?>>();
        foreach (var msg in m.EnumerateArray())
        {
            if (msg.ValueKind != JsonValueKind.Object) throw RequestJson.TypeError("messages", "a list of message objects");
            var dict = new Dictionary<string, object?>(StringComparer.Ordinal);
            foreach (var p in msg.EnumerateObject()) dict[p.Name] = TemplateValues.FromJson(p.Value);
            if (!msg.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String)
                throw ApiException.BadRequest("Each message needs a string 'role'.", "messages");
            if (!Roles.Contains(role.GetString()!))
                throw ApiException.BadRequest($"Unknown message role '{role.GetString()}'; expected one of {string.Join(", ", Roles)}.", "messages");
            dict["content"] = Content(msg);
            if (msg.TryGetProperty("tool_calls", out var calls) && calls.ValueKind != JsonValueKind.Null)
                dict["tool_calls"] = ToolCallsForTemplate(calls);
            list.Add(dict);
        }
        if (list.Count == 0) throw ApiException.BadRequest("messages cannot be empty.", "messages");
        return list;
    }

    /// <summary>
    /// An assistant message's tool_calls with each function's arguments (a JSON string in OpenAI's format) parsed into
    /// a dict: the form tool-calling templates read (<c>arguments | tojson</c>), and what vLLM and transformers pass.
    /// </summary>
    private static List<object?> ToolCallsForTemplate(JsonElement calls)
    {
        if (calls.ValueKind != JsonValueKind.Array) throw RequestJson.TypeError("messages", "messages whose tool_calls is a list");
        var list = new List<object?>();
        foreach (var call in calls.EnumerateArray())
        {
            if (call.ValueKind != JsonValueKind.Object || !call.TryGetProperty("function", out var function) || function.ValueKind != JsonValueKind.Object
                || !function.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
                throw ApiException.BadRequest("Each tool call in a message needs a 'function' object with a string 'name'.", "messages");
            var dict = (Dictionary<string, object?>)TemplateValues.FromJson(call)!;
            var fn = (Dictionary<string, object?>)dict["function"]!;
            if (function.TryGetProperty("arguments", out var args) && args.ValueKind == JsonValueKind.String)
            {
                try
                {
                    using var parsed = JsonDocument.Parse(args.GetString()!);
                    fn["arguments"] = TemplateValues.FromJson(parsed.RootElement);
                }
                catch (JsonException)
                {
                    throw ApiException.BadRequest($"The arguments of tool call '{name.GetString()}' are not valid JSON.", "messages");
                }
            }
            list.Add(dict);
        }
        return list;
    }

    private static string Content(JsonElement msg)
    {
        if (!msg.TryGetProperty("content", out var c) || c.ValueKind == JsonValueKind.Null) return "";
        if (c.ValueKind == JsonValueKind.String) return c.GetString()!;
        if (c.ValueKind != JsonValueKind.Array) throw RequestJson.TypeError("messages", "messages whose content is a string or a list of parts");
        var sb = new StringBuilder();
        foreach (var part in c.EnumerateArray())
        {
            if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out var type)
                || type.ValueKind != JsonValueKind.String || type.GetString() != "text"
                || !part.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
                throw ApiException.BadRequest("Only text content parts ({\"type\": \"text\", \"text\": ...}) are supported.", "messages");
            if (sb.Length > 0) sb.Append('\n');
            sb.Append(text.GetString());
        }
        return sb.ToString();
    }
}
