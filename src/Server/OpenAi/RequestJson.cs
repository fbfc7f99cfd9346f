using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace InferenceServer.Server.OpenAi;

/// <summary>
/// Typed, defensive access to a request's JSON object. Every getter checks the JSON type itself, so a wrong type
/// becomes a 400 naming the field instead of a deserializer exception (500).
/// </summary>
public sealed class RequestJson(JsonElement root)
{
    public JsonElement Root { get; } = root;

    /// <summary>Reads and parses the body; malformed JSON → 400, body over Kestrel's limit → 413.</summary>
    public static async Task<(JsonDocument Doc, RequestJson Json)> ReadAsync(HttpRequest request, CancellationToken ct)
    {
        JsonDocument doc;
        try
        {
            doc = await JsonDocument.ParseAsync(request.Body, default, ct);
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"The request body is not valid JSON: {e.Message}");
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw new ApiException(413, "The request body is too large.", code: "request_too_large");
        }
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            doc.Dispose();
            throw ApiException.BadRequest("The request body must be a JSON object.");
        }
        return (doc, new RequestJson(doc.RootElement));
    }

    /// <summary>The property, or null when absent or JSON null (OpenAI clients send explicit nulls for unset fields).</summary>
    public JsonElement? Get(string name) =>
        Root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public bool Has(string name) => Get(name) is not null;

    public string? String(string name) => Get(name) is { } v
        ? v.ValueKind == JsonValueKind.String ? v.GetString() : throw TypeError(name, "a string")
        : null;

    public bool? Bool(string name) => Get(name) is { } v
        ? v.ValueKind switch { JsonValueKind.True => true, JsonValueKind.False => false, _ => throw TypeError(name, "a boolean") }
        : null;

    public int? Int(string name)
    {
        if (Get(name) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Number) throw TypeError(name, "an integer");
        if (v.TryGetInt32(out int i)) return i;
        // 5.0 is an integer for Python (pydantic accepts it); 5.5 or 1e20 is not.
        if (v.TryGetDouble(out double d) && d == Math.Floor(d) && d >= int.MinValue && d <= int.MaxValue) return (int)d;
        throw TypeError(name, "an integer in the 32-bit range");
    }

    public long? Long(string name)
    {
        if (Get(name) is not { } v) return null;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out long l)) return l;
        throw TypeError(name, "an integer");
    }

    public float? Float(string name)
    {
        if (Get(name) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Number) throw TypeError(name, "a number");
        return (float)v.GetDouble();
    }

    public static ApiException TypeError(string name, string expected) =>
        ApiException.BadRequest($"'{name}' must be {expected}.", name);
}
