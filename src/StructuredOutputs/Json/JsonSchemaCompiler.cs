using System.Text.Encodings.Web;
using System.Text.Json;
using static InferenceServer.StructuredOutputs.GrammarNode;

namespace InferenceServer.StructuredOutputs;

/// <summary>
/// JSON Schema → grammar, for the subset OpenAI's strict mode accepts: <c>type</c> (one or a list), objects with
/// <c>properties</c>/<c>required</c>/<c>additionalProperties</c>, arrays with <c>items</c>, <c>enum</c>, <c>const</c>,
/// <c>anyOf</c>, <c>$ref</c> to <c>#</c>, <c>#/$defs/…</c> or any local JSON pointer, and annotations (title,
/// description…), which are ignored. Any other keyword is refused with a <see cref="GrammarException"/> naming it.
/// Properties are generated in the schema's order; recursive references unroll <see cref="MaxRecursion"/> levels.
/// </summary>
internal sealed class JsonSchemaCompiler
{
    /// <summary>How many times one <c>$ref</c> may expand inside itself.</summary>
    public const int MaxRecursion = 4;

    private static readonly HashSet<string> Annotations =
        ["title", "description", "$schema", "$id", "$comment", "default", "examples", "deprecated", "readOnly", "writeOnly", "$defs", "definitions", "strict"];

    private static readonly HashSet<string> Structural =
        ["type", "properties", "required", "additionalProperties", "items", "enum", "const", "anyOf", "$ref"];

    private static readonly JsonSerializerOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly JsonElement _root;
    private readonly Dictionary<string, GrammarNode> _definitions = [];

    private JsonSchemaCompiler(JsonElement root) => _root = root;

    public static GrammarNode Compile(JsonElement schema) => new JsonSchemaCompiler(schema).Node(schema, "#");

    /// <summary>A value as compact JSON text (its spelling in the output).</summary>
    public static string CompactJson(JsonElement value) => JsonSerializer.Serialize(value, Compact);

    private GrammarNode Node(JsonElement schema, string path)
    {
        if (schema.ValueKind == JsonValueKind.True) return JsonPrimitives.AnyValue(JsonPrimitives.AnyValueDepth);
        if (schema.ValueKind == JsonValueKind.False) return NothingNode.Instance;
        if (schema.ValueKind != JsonValueKind.Object)
            throw new GrammarException($"the schema at {path} must be an object or a boolean, not {schema.ValueKind}", "schema");
        foreach (var p in schema.EnumerateObject())
            if (!Annotations.Contains(p.Name) && !Structural.Contains(p.Name))
                throw new GrammarException($"JSON Schema keyword '{p.Name}' (at {path}) is not supported for structured outputs; supported: {string.Join(", ", Structural)}", p.Name);

        if (schema.TryGetProperty("$ref", out var reference)) return Reference(reference, path);
        if (schema.TryGetProperty("anyOf", out var anyOf))
        {
            if (anyOf.ValueKind != JsonValueKind.Array || anyOf.GetArrayLength() == 0)
                throw new GrammarException($"anyOf at {path} must be a non-empty array of schemas", "anyOf");
            return Choice(anyOf.EnumerateArray().Select((s, i) => Node(s, $"{path}/anyOf/{i}")).ToArray());
        }
        if (schema.TryGetProperty("const", out var constant)) return Text(CompactJson(constant));
        if (schema.TryGetProperty("enum", out var values))
        {
            if (values.ValueKind != JsonValueKind.Array)
                throw new GrammarException($"enum at {path} must be an array", "enum");
            var options = values.EnumerateArray().Select(v => Text(CompactJson(v))).ToArray();
            return options.Length == 0 ? NothingNode.Instance : Choice(options);
        }
        if (!schema.TryGetProperty("type", out var type))
        {
            if (schema.TryGetProperty("properties", out _)) return Typed(schema, "object", path);
            if (schema.TryGetProperty("items", out _)) return Typed(schema, "array", path);
            return JsonPrimitives.AnyValue(JsonPrimitives.AnyValueDepth);
        }
        if (type.ValueKind == JsonValueKind.String) return Typed(schema, type.GetString()!, path);
        if (type.ValueKind == JsonValueKind.Array && type.GetArrayLength() > 0 && type.EnumerateArray().All(t => t.ValueKind == JsonValueKind.String))
            return Choice(type.EnumerateArray().Select(t => Typed(schema, t.GetString()!, path)).ToArray());
        throw new GrammarException($"type at {path} must be a type name or a non-empty array of them", "type");
    }

    private GrammarNode Typed(JsonElement schema, string type, string path) => type switch
    {
        "object" => Object(schema, path),
        "array" => schema.TryGetProperty("items", out var items)
            ? JsonPrimitives.ArrayOf(Node(items, path + "/items"), 0)
            : JsonPrimitives.AnyArray(JsonPrimitives.AnyValueDepth),
        "string" => JsonPrimitives.String,
        "number" => JsonPrimitives.Number,
        "integer" => JsonPrimitives.Integer,
        "boolean" => JsonPrimitives.Boolean,
        "null" => JsonPrimitives.Null,
        _ => throw new GrammarException($"unknown type '{type}' at {path}", "type"),
    };

    private GrammarNode Object(JsonElement schema, string path)
    {
        var additional = schema.TryGetProperty("additionalProperties", out var a) ? a : default;
        if (!schema.TryGetProperty("properties", out var properties))
        {
            if (additional.ValueKind == JsonValueKind.False) return Text("{}");
            var value = additional.ValueKind == JsonValueKind.Object ? Node(additional, path + "/additionalProperties")
                : JsonPrimitives.AnyValue(JsonPrimitives.AnyValueDepth - 1);
            return new SeparatedListNode(Text("{"), Seq(JsonPrimitives.String, Text(":"), value), Text(","), Text("}"), 0);
        }
        if (properties.ValueKind != JsonValueKind.Object)
            throw new GrammarException($"properties at {path} must be an object", "properties");
        var required = new HashSet<string>();
        if (schema.TryGetProperty("required", out var r))
        {
            if (r.ValueKind != JsonValueKind.Array || r.EnumerateArray().Any(x => x.ValueKind != JsonValueKind.String))
                throw new GrammarException($"required at {path} must be an array of property names", "required");
            foreach (var name in r.EnumerateArray().Select(x => x.GetString()!))
                if (!properties.TryGetProperty(name, out _))
                    throw new GrammarException($"required at {path} names '{name}', which is not in properties", "required");
                else required.Add(name);
        }
        // Properties beyond the listed ones are allowed by additionalProperties true/absent, but never needed:
        // the output lists only the schema's own properties.
        var list = properties.EnumerateObject()
            .Select(p => new ObjectProperty(CompactJson(JsonSerializer.SerializeToElement(p.Name)), Node(p.Value, $"{path}/properties/{p.Name}"), required.Contains(p.Name)))
            .ToArray();
        return new ObjectNode(list);
    }

    private GrammarNode Reference(JsonElement reference, string path)
    {
        if (reference.ValueKind != JsonValueKind.String || reference.GetString() is not { } target || !target.StartsWith('#'))
            throw new GrammarException($"$ref at {path} must be a local reference ('#' or '#/$defs/Name')", "$ref");
        return new ReferenceNode(target, () =>
        {
            if (!_definitions.TryGetValue(target, out var node))
            {
                node = Node(Resolve(target), target);
                _definitions[target] = node;
            }
            return node;
        });
    }

    /// <summary>Follows a JSON pointer ("#/$defs/Name", with ~0 and ~1 escapes) from the root schema.</summary>
    private JsonElement Resolve(string target)
    {
        var at = _root;
        foreach (var raw in target.Length <= 1 ? [] : target[2..].Split('/'))
        {
            var key = Uri.UnescapeDataString(raw).Replace("~1", "/").Replace("~0", "~");
            if (at.ValueKind == JsonValueKind.Object && at.TryGetProperty(key, out var next)) at = next;
            else if (at.ValueKind == JsonValueKind.Array && int.TryParse(key, out var i) && i >= 0 && i < at.GetArrayLength()) at = at[i];
            else throw new GrammarException($"$ref '{target}' does not resolve inside the schema", "$ref");
        }
        return at;
    }
}
