using System.Collections;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace InferenceServer.Tokenization.Templates;

/// <summary>
/// The value model templates work on, and conversions into it. A value is one of:
/// <list type="bullet">
/// <item><c>null</c> (Python None), <see cref="string"/>, <see cref="bool"/>, <see cref="long"/> (int), <see cref="double"/> (float);</item>
/// <item><see cref="IReadOnlyList{T}"/> of values (list);</item>
/// <item><see cref="IReadOnlyDictionary{TKey,TValue}"/> with string keys (dict; enumeration order is the key order
/// templates and <c>tojson</c> see, so pass insertion-ordered dictionaries such as <see cref="Dictionary{TKey,TValue}"/>).</item>
/// </list>
/// <see cref="ChatTemplate.Render"/> also accepts other integer and floating types, arrays and enumerables, string-keyed
/// dictionaries, <see cref="JsonElement"/> and <see cref="JsonNode"/>, and converts them with <see cref="Normalize"/>.
/// </summary>
public static class TemplateValues
{
    /// <summary>
    /// Converts a CLR value to the model. Values already in the model are returned as they are (no copy), so
    /// normalizing the same messages on every request costs a walk, not an allocation.
    /// </summary>
    public static object? Normalize(object? value) => Normalize(value, 0);

    private static object? Normalize(object? value, int level)
    {
        if (level > NestingLimits.Value || !NestingLimits.StackLeft()) throw NestingLimits.ValueTooDeep("converting the template's values");
        switch (value)
        {
            case null or string or bool or long or double:
                return value;
            case int or short or sbyte or byte or ushort or uint:
                return Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture);
            case ulong u:
                return u <= long.MaxValue ? (long)u : (double)u;
            case float f:
                return (double)f;
            case decimal m:
                return decimal.IsInteger(m) && m >= long.MinValue && m <= long.MaxValue ? (long)m : (double)m;
            case char c:
                return c.ToString();
            case Enum e:
                return e.ToString();
            case JsonElement element:
                return FromJson(element);
            case JsonNode node:
                return FromJson(node);
            case IReadOnlyDictionary<string, object?> dict:
                Dictionary<string, object?>? copy = null;
                foreach (var (k, v) in dict)
                {
                    var n = Normalize(v, level + 1);
                    if (copy is null && !ReferenceEquals(n, v))
                    {
                        copy = new Dictionary<string, object?>(dict.Count, StringComparer.Ordinal);
                        foreach (var (k2, v2) in dict)
                        {
                            if (k2 == k) break;
                            copy[k2] = v2;
                        }
                    }

                    if (copy is not null) copy[k] = n;
                }

                return copy ?? (object)dict;
            case IReadOnlyList<object?> list:
                List<object?>? listCopy = null;
                for (var i = 0; i < list.Count; i++)
                {
                    var n = Normalize(list[i], level + 1);
                    if (listCopy is null && !ReferenceEquals(n, list[i])) listCopy = [.. list.Take(i)];
                    listCopy?.Add(n);
                }

                return listCopy ?? (object)list;
            case IDictionary dictionary:
                var d = new Dictionary<string, object?>(StringComparer.Ordinal);
                foreach (DictionaryEntry entry in dictionary) d[Convert.ToString(entry.Key, System.Globalization.CultureInfo.InvariantCulture) ?? ""] = Normalize(entry.Value, level + 1);
                return d;
            case IEnumerable<KeyValuePair<string, object?>> pairs:
                return pairs.ToDictionary(p => p.Key, p => Normalize(p.Value, level + 1), StringComparer.Ordinal);
            case IEnumerable enumerable:
                return enumerable.Cast<object?>().Select(v => Normalize(v, level + 1)).ToList();
            default:
                throw new ArgumentException($"A {value.GetType().Name} cannot be passed to a chat template; use the types TemplateValues documents.");
        }
    }

    /// <summary>
    /// Converts JSON to the model as Python's <c>json.loads</c> would: numbers with a fraction or exponent become
    /// double, other numbers long; object key order is kept.
    /// </summary>
    public static object? FromJson(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Null or JsonValueKind.Undefined => null,
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.String => element.GetString(),
        JsonValueKind.Number => Number(element.GetRawText()),
        JsonValueKind.Array => element.EnumerateArray().Select(FromJson).ToList(),
        JsonValueKind.Object => ObjectFromJson(element),
        _ => throw new ArgumentException($"unexpected JSON value kind {element.ValueKind}"),
    };

    /// <inheritdoc cref="FromJson(JsonElement)"/>
    public static object? FromJson(JsonNode? node) => node switch
    {
        null => null,
        JsonObject obj => obj.ToDictionary(p => p.Key, p => FromJson(p.Value), StringComparer.Ordinal),
        JsonArray array => array.Select(FromJson).ToList(),
        JsonValue value => FromJson(value.GetValue<JsonElement>()),
        _ => throw new ArgumentException($"unexpected JSON node {node.GetType().Name}"),
    };

    /// <summary>A JSON array of message objects (as in an OpenAI chat request) as <see cref="ChatTemplate.RenderChat"/> takes it.</summary>
    public static IReadOnlyList<IReadOnlyDictionary<string, object?>> MessagesFromJson(JsonElement messages)
    {
        if (messages.ValueKind != JsonValueKind.Array) throw new ArgumentException("messages must be a JSON array");
        return messages.EnumerateArray()
            .Select(m => m.ValueKind == JsonValueKind.Object
                ? ObjectFromJson(m)
                : throw new ArgumentException("each message must be a JSON object"))
            .ToList();
    }

    private static Dictionary<string, object?> ObjectFromJson(JsonElement element)
    {
        var dict = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var property in element.EnumerateObject()) dict[property.Name] = FromJson(property.Value);
        return dict;
    }

    private static object Number(string raw)
    {
        if (raw.AsSpan().IndexOfAny(".eE") < 0 && long.TryParse(raw, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var l))
            return l;
        return double.Parse(raw, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture);
    }
}
