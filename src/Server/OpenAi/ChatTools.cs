using System.Text.Json;
using System.Text.Json.Nodes;
using InferenceServer.Engine.Sampling;
using InferenceServer.Engine.Serving;
using InferenceServer.Server.Constraints;
using InferenceServer.Server.Settings;
using InferenceServer.Server.ToolCalling;
using InferenceServer.StructuredOutputs;
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

    /// <summary>
    /// The parser that reads the output: the server's (<c>--tool-call-parser</c>); for a forced call without one, the
    /// plain JSON call object ({"name", "arguments"}) that llama3_json also reads. Null when nothing is read.
    /// </summary>
    public ToolCallParser? Parser { get; }

    /// <summary>tool_choice required or a named function: the output is constrained to one call.</summary>
    public bool Forced => Mode is ToolChoiceMode.Required or ToolChoiceMode.Named;

    /// <summary>What the prompt ends with for a forced call (the parser's call opening), else "".</summary>
    public string Prefix => Forced ? Parser!.ForcedPrefix : "";

    /// <summary>What closes a forced call after the constrained object, else "".</summary>
    public string Suffix => Forced ? Parser!.ForcedSuffix : "";

    /// <summary>The tools as the chat template receives them: the request's tool objects, unchanged (as vLLM passes them).</summary>
    public object? TemplateTools { get; }

    /// <summary>True when the output is read for tool calls: auto with a parser, or a forced call.</summary>
    public bool ParsesOutput => (Mode == ToolChoiceMode.Auto || Forced) && Parser is not null;

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
        if (parser is null && mode is ToolChoiceMode.Required or ToolChoiceMode.Named) parser = new Llama3JsonToolCallParser { PlainArguments = true };
        if (mode == ToolChoiceMode.Auto && !(settings.EnableAutoToolChoice && parser is not null))
            throw ApiException.BadRequest(
                "\"auto\" tool choice (the default when tools are given) needs the server started with --enable-auto-tool-choice and --tool-call-parser; "
                + "send tool_choice \"none\", \"required\" or a named function instead.", "tool_choice");
        return new ChatTools(functions, mode, named, parallel, parser, toolsJson is { } t ? TemplateValues.FromJson(t) : null);
    }

    /// <summary>
    /// The JSON Schema a forced call's output must follow: one call object, {"name": const, ARGUMENTS_KEY: the
    /// function's parameters} (any object when it declares none), for the named function or, for required, any of
    /// them (anyOf). The object's keys come in the order the parser's syntax writes them.
    /// </summary>
    public JsonObject ForcedSchema()
    {
        var key = Parser!.ArgumentsKey;
        JsonObject CallSchema(JsonElement function)
        {
            var parameters = function.TryGetProperty("parameters", out var p) && p.ValueKind == JsonValueKind.Object
                ? JsonNode.Parse(p.GetRawText())!
                : new JsonObject { ["type"] = "object" };
            return new JsonObject
            {
                ["type"] = "object",
                ["properties"] = new JsonObject
                {
                    ["name"] = new JsonObject { ["const"] = function.GetProperty("name").GetString() },
                    [key] = parameters,
                },
                ["required"] = new JsonArray("name", key),
                ["additionalProperties"] = false,
            };
        }
        if (Mode == ToolChoiceMode.Named)
            return CallSchema(Functions.First(f => f.GetProperty("name").GetString() == NamedFunction));
        return Functions.Count == 1 ? CallSchema(Functions[0]) : new JsonObject { ["anyOf"] = new JsonArray([.. Functions.Select(f => (JsonNode)CallSchema(f))]) };
    }

    /// <summary>The forced call's schema compiled for the engine's vocabulary; a schema outside the supported subset is a 400.</summary>
    public ILogitsConstraint ForcedConstraint(IInferenceEngine engine)
    {
        using var schema = JsonDocument.Parse(ForcedSchema().ToJsonString());
        try
        {
            return new GrammarConstraint(ConstraintCompilers.For(engine).JsonSchema(schema.RootElement));
        }
        catch (GrammarException e)
        {
            throw ApiException.BadRequest($"tool_choice forces a call, and the function's parameters schema cannot be enforced: {e.Message}", "tools");
        }
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
