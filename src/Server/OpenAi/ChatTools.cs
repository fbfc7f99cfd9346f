using System.Text.Json;
using InferenceServer.Server.Settings;
using InferenceServer.Server.ToolCalling;
using InferenceServer.Tokenization.Templates;

namespace InferenceServer.Server.OpenAi;

/// <summary>What tool_choice asks for (OpenAI's values).</summary>
public enum ToolChoiceMode
{
    None,
    Auto,
    Required,
    Named,
}

/// <summary>
/// A chat request's <c>tools</c>, <c>tool_choice</c> and <c>parallel_tool_calls</c>, checked as OpenAI and vLLM check
/// them: tools are function tools with a name; a named choice must name one of them; <c>auto</c> (the default when tools
/// are given) needs <c>--enable-auto-tool-choice</c> and <c>--tool-call-parser</c>.
/// </summary>
public sealed class ChatTools
{
    private ChatTools(List<JsonElement> functions, ToolChoiceMode mode, string? named, bool parallel, ToolCallParser? parser, object? templateTools)
    {
        Functions = functions;
        Mode = mode;
        NamedFunction = named;
        ParallelToolCalls = parallel;
        Parser = parser;
        TemplateTools = templateTools;
    }

    /// <summary>The <c>function</c> objects of the tools, in request order.</summary>
    public IReadOnlyList<JsonElement> Functions { get; }

    public ToolChoiceMode Mode { get; }

    /// <summary>The function tool_choice names, for <see cref="ToolChoiceMode.Named"/>.</summary>
    public string? NamedFunction { get; }

    /// <summary>parallel_tool_calls (default true); false keeps only the first call of a choice.</summary>
    public bool ParallelToolCalls { get; }

    /// <summary>The server's parser (<c>--tool-call-parser</c>), or null.</summary>
    public ToolCallParser? Parser { get; }

    /// <summary>The tools as the chat template receives them: the request's tool objects, unchanged (as vLLM passes them).</summary>
    public object? TemplateTools { get; }

    /// <summary>True when the output is read for tool calls: auto with a parser.</summary>
    public bool ParsesOutput => Mode == ToolChoiceMode.Auto && Parser is not null;

    /// <summary>Reads the fields; null when the request has no tools and no tool_choice.</summary>
    public static ChatTools? Read(RequestJson j, ServerSettings settings)
    {
        var functions = new List<JsonElement>();
        JsonElement? toolsJson = j.Get("tools");
        if (toolsJson is { } tools)
        {
            if (tools.ValueKind != JsonValueKind.Array) throw RequestJson.TypeError("tools", "a list of tool objects");
            foreach (var tool in tools.EnumerateArray()) functions.Add(ReadTool(tool));
            var duplicate = functions.GroupBy(f => f.GetProperty("name").GetString()).FirstOrDefault(g => g.Count() > 1);
            if (duplicate is not null) throw ApiException.BadRequest($"Two tools are named '{duplicate.Key}'; tool names must be unique.", "tools");
        }
        bool parallel = j.Bool("parallel_tool_calls") ?? true;
        var (mode, named) = ReadChoice(j, functions);
        if (functions.Count == 0 && mode != ToolChoiceMode.None)
        {
            if (j.Has("tool_choice"))
                throw ApiException.BadRequest("tool_choice other than \"none\" is only allowed when tools are given.", "tool_choice");
            return null;
        }
        var parser = settings.ToolCallParser is { } name ? ToolCallParsers.Create(name) : null;
        if (mode == ToolChoiceMode.Auto && !(settings.EnableAutoToolChoice && parser is not null))
            throw ApiException.BadRequest(
                "\"auto\" tool choice (the default when tools are given) needs the server started with --enable-auto-tool-choice and --tool-call-parser; "
                + "send tool_choice \"none\", \"required\" or a named function instead.", "tool_choice");
        if (mode is ToolChoiceMode.Required or ToolChoiceMode.Named)
            throw ApiException.BadRequest($"tool_choice \"{(mode == ToolChoiceMode.Named ? "function" : "required")}\" needs constrained decoding, which this server does not have yet; use \"auto\" or \"none\".", "tool_choice");
        return new ChatTools(functions, mode, named, parallel, parser, toolsJson is { } t ? TemplateValues.FromJson(t) : null);
    }

    /// <summary>The parameters schema of the named function ({} when it declares none: any object).</summary>
    public JsonElement? ParametersOf(string name) =>
        Functions.FirstOrDefault(f => f.GetProperty("name").GetString() == name) is { ValueKind: JsonValueKind.Object } f && f.TryGetProperty("parameters", out var p)
            ? p
            : null;

    /// <summary>A tool: {"type": "function", "function": {"name", "description"?, "parameters"?, "strict"?}}; returns the function object.</summary>
    private static JsonElement ReadTool(JsonElement tool)
    {
        if (tool.ValueKind != JsonValueKind.Object) throw RequestJson.TypeError("tools", "a list of tool objects");
        if (!tool.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String || type.GetString() != "function")
            throw ApiException.BadRequest("Each tool needs \"type\": \"function\" (the only tool type served).", "tools");
        if (!tool.TryGetProperty("function", out var function) || function.ValueKind != JsonValueKind.Object)
            throw ApiException.BadRequest("Each tool needs a 'function' object.", "tools");
        if (!function.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String || !ValidName(name.GetString()!))
            throw ApiException.BadRequest("Each function needs a 'name' of 1 to 64 letters, digits, underscores or dashes.", "tools");
        if (function.TryGetProperty("description", out var d) && d.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
            throw ApiException.BadRequest($"The description of function '{name.GetString()}' must be a string.", "tools");
        if (function.TryGetProperty("parameters", out var p) && p.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null))
            throw ApiException.BadRequest($"The parameters of function '{name.GetString()}' must be a JSON Schema object.", "tools");
        if (function.TryGetProperty("strict", out var s) && s.ValueKind is not (JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null))
            throw ApiException.BadRequest($"'strict' of function '{name.GetString()}' must be a boolean.", "tools");
        return function;
    }

    private static bool ValidName(string name) =>
        name.Length is > 0 and <= 64 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-');

    private static (ToolChoiceMode, string?) ReadChoice(RequestJson j, List<JsonElement> functions)
    {
        if (j.Get("tool_choice") is not { } choice)
            return (functions.Count > 0 ? ToolChoiceMode.Auto : ToolChoiceMode.None, null);
        if (choice.ValueKind == JsonValueKind.String)
        {
            return choice.GetString() switch
            {
                "none" => (ToolChoiceMode.None, null),
                "auto" => (ToolChoiceMode.Auto, null),
                "required" => (ToolChoiceMode.Required, null),
                var other => throw ApiException.BadRequest($"tool_choice '{other}' is not one of \"none\", \"auto\", \"required\" or a named function.", "tool_choice"),
            };
        }
        if (choice.ValueKind != JsonValueKind.Object
            || !choice.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String || type.GetString() != "function"
            || !choice.TryGetProperty("function", out var function) || function.ValueKind != JsonValueKind.Object
            || !function.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
            throw RequestJson.TypeError("tool_choice", "\"none\", \"auto\", \"required\" or {\"type\": \"function\", \"function\": {\"name\": ...}}");
        var n = name.GetString()!;
        if (functions.Count > 0 && !functions.Any(f => f.GetProperty("name").GetString() == n))
            throw ApiException.BadRequest($"tool_choice names function '{n}', which is not among the tools.", "tool_choice");
        return (ToolChoiceMode.Named, n);
    }
}
