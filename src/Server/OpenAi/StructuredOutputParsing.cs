using System.Text.Json;
using InferenceServer.Engine.Sampling;
using InferenceServer.Engine.Serving;
using InferenceServer.Server.Constraints;
using InferenceServer.StructuredOutputs;

namespace InferenceServer.Server.OpenAi;

/// <summary>
/// Structured outputs: OpenAI's <c>response_format</c> (<c>text</c>, <c>json_object</c>, <c>json_schema</c>) and
/// vLLM's <c>guided_json</c> (a schema, as an object or as JSON text), <c>guided_regex</c> and <c>guided_choice</c>,
/// on both completion routes. At most one may constrain a request. A schema or regex outside the supported subset is
/// a 400 naming the field and the keyword.
/// </summary>
public static class StructuredOutputParsing
{
    /// <summary>The request's constraint, or null when it has none.</summary>
    public static ILogitsConstraint? Read(RequestJson j, IInferenceEngine engine)
    {
        var given = new List<(string Field, Func<StructuredOutputCompiler, TokenGrammar> Compile)>();
        if (ResponseFormat(j) is { } rf) given.Add(("response_format", rf));
        if (j.Get("guided_json") is { } schema)
        {
            var element = schema.ValueKind switch
            {
                JsonValueKind.Object or JsonValueKind.True or JsonValueKind.False => schema,
                JsonValueKind.String => ParseSchemaText(schema.GetString()!),
                _ => throw RequestJson.TypeError("guided_json", "a JSON Schema object (or its JSON text)"),
            };
            given.Add(("guided_json", c => c.JsonSchema(element)));
        }
        if (j.Get("guided_regex") is { } regex)
        {
            if (regex.ValueKind != JsonValueKind.String) throw RequestJson.TypeError("guided_regex", "a string");
            given.Add(("guided_regex", c => c.Regex(regex.GetString()!)));
        }
        if (j.Get("guided_choice") is { } choice)
        {
            if (choice.ValueKind != JsonValueKind.Array || choice.GetArrayLength() == 0 || choice.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
                throw RequestJson.TypeError("guided_choice", "a non-empty list of strings");
            var choices = choice.EnumerateArray().Select(e => e.GetString()!).ToList();
            given.Add(("guided_choice", c => c.Choice(choices)));
        }
        if (given.Count == 0) return null;
        if (given.Count > 1)
            throw ApiException.BadRequest($"Only one kind of structured output may be requested; got {string.Join(", ", given.Select(g => g.Field))}.", given[1].Field);
        var (field, compile) = given[0];
        try
        {
            return new GrammarConstraint(compile(ConstraintCompilers.For(engine)));
        }
        catch (GrammarException e)
        {
            throw ApiException.BadRequest($"{field}: {e.Message}", field);
        }
    }

    /// <summary>response_format: null for text (or absent), else how to compile it.</summary>
    private static Func<StructuredOutputCompiler, TokenGrammar>? ResponseFormat(RequestJson j)
    {
        if (j.Get("response_format") is not { } rf) return null;
        if (rf.ValueKind != JsonValueKind.Object || !rf.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
            throw RequestJson.TypeError("response_format", "an object with a string 'type'");
        switch (type.GetString())
        {
            case "text":
                return null;
            case "json_object":
                return c => c.JsonObject();
            case "json_schema":
                if (!rf.TryGetProperty("json_schema", out var js) || js.ValueKind != JsonValueKind.Object)
                    throw ApiException.BadRequest("response_format of type 'json_schema' needs a 'json_schema' object with 'name' and 'schema'.", "response_format");
                // OpenAI requires the name (1-64 letters, digits, '_' or '-'); the schema itself is optional.
                if (!js.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String || name.GetString() is not { Length: > 0 and <= 64 } n
                    || !n.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '_' or '-'))
                    throw ApiException.BadRequest("response_format.json_schema.name is required: 1 to 64 letters, digits, '_' or '-'.", "response_format");
                if (js.TryGetProperty("strict", out var strict) && strict.ValueKind is not (JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null))
                    throw RequestJson.TypeError("response_format", "an object whose json_schema.strict is a boolean");
                // OpenAI makes the schema optional (any JSON then); vLLM requires it. Without one, any JSON object.
                if (!js.TryGetProperty("schema", out var schema)) return c => c.JsonObject();
                if (schema.ValueKind is not (JsonValueKind.Object or JsonValueKind.True or JsonValueKind.False))
                    throw RequestJson.TypeError("response_format", "an object whose json_schema.schema is a JSON Schema object");
                return c => c.JsonSchema(schema);
            default:
                throw ApiException.BadRequest($"response_format type '{type.GetString()}' is not supported; use 'text', 'json_object' or 'json_schema'.", "response_format");
        }
    }

    private static JsonElement ParseSchemaText(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = RequestJson.MaxDepth });
            return doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"guided_json is a string that is not valid JSON: {e.Message}", "guided_json");
        }
    }
}
