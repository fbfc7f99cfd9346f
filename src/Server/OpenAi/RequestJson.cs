using System.Text.Json;
using System.Text.Unicode;
using Microsoft.AspNetCore.Http;

namespace InferenceServer.Server.OpenAi;

/// <summary>
/// Typed, defensive access to a request's JSON object. Every getter checks the JSON type itself, so a wrong type
/// becomes a 400 naming the field instead of a deserializer exception (500).
/// </summary>
public sealed class RequestJson(JsonElement root)
{
    public JsonElement Root { get; } = root;

    /// <summary>
    /// System.Text.Json's default nesting limit, stated here because it is what stops a body of 10,000 nested arrays
    /// with a 400 instead of deep recursion; no request field legitimately nests deeper than a few levels.
    /// </summary>
    public const int MaxDepth = 64;

    /// <summary>Reads and parses the body; malformed JSON or invalid UTF-8 → 400, body over Kestrel's limit → 413.</summary>
    public static async Task<(JsonDocument Doc, RequestJson Json)> ReadAsync(HttpRequest request, CancellationToken ct)
    {
        // Buffer first (Kestrel's MaxRequestBodySize bounds it) so the bytes can be checked as UTF-8 up front:
        // JsonDocument only notices bad UTF-8 inside a string when that string is read, which would be a 500 later.
        var buffer = new MemoryStream();
        try
        {
            await request.Body.CopyToAsync(buffer, ct);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw new ApiException(413, "The request body is too large.", code: "request_too_large");
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status408RequestTimeout)
        {
            // Kestrel's MinRequestBodyDataRate: the body arrived too slowly.
            throw new ApiException(408, "The request body arrived too slowly.", code: "request_timeout");
        }
        catch (BadHttpRequestException e)
        {
            // Kestrel's verdict on the framing: cut off before Content-Length, malformed chunked encoding...
            throw ApiException.BadRequest($"The request body could not be read: {e.Message}");
        }
        catch (IOException e)
        {
            // The connection failed mid-body (reset, or a transport error): the client's side, not a server fault.
            throw ApiException.BadRequest($"The request body could not be read: {e.Message}");
        }
        var bytes = new ReadOnlyMemory<byte>(buffer.GetBuffer(), 0, (int)buffer.Length);
        if (bytes.Span.StartsWith("\uFEFF"u8)) bytes = bytes[3..];
        if (!Utf8.IsValid(bytes.Span)) throw ApiException.BadRequest("The request body is not valid UTF-8.");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = MaxDepth });
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"The request body is not valid JSON: {e.Message}");
        }
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            doc.Dispose();
            throw ApiException.BadRequest("The request body must be a JSON object.");
        }
        try
        {
            CheckEscapedStrings(bytes.Span);
        }
        catch
        {
            doc.Dispose();
            throw;
        }
        return (doc, new RequestJson(doc.RootElement));
    }

    /// <summary>
    /// JSON escapes can spell UTF-16 that is not text: a lone surrogate ("\ud800") parses, but decoding that string
    /// (JsonElement.GetString, anywhere later) throws InvalidOperationException, which was a 500. Checks every escaped
    /// string and property name once, up front, so it is a 400 naming the top-level field. Unescaped strings need no
    /// check: the body as a whole was already validated as UTF-8.
    /// </summary>
    private static void CheckEscapedStrings(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = MaxDepth });
        string? field = null;
        while (reader.Read())
        {
            if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.PropertyName)) continue;
            bool topLevelName = reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1;
            if (!reader.ValueIsEscaped)
            {
                if (topLevelName) field = reader.GetString();
                continue;
            }
            string value;
            try
            {
                value = reader.GetString()!;
            }
            catch (InvalidOperationException)
            {
                throw topLevelName
                    ? ApiException.BadRequest("The request body has a field name that is not valid Unicode text (a lone UTF-16 surrogate escape such as \\ud800).")
                    : ApiException.BadRequest($"'{field}' is not valid Unicode text: it holds a lone UTF-16 surrogate escape (such as \\ud800).", field);
            }
            if (topLevelName) field = value;
        }
    }

    /// <summary>
    /// Top-level fields outside <paramref name="known"/> are ignored with a logged warning. This is vLLM's choice, not
    /// OpenAI's (OpenAI answers 400 "Unrecognized request argument"): clients written for vLLM or newer OpenAI
    /// versions send fields this server does not know (tool_choice, store, metadata...), and failing them all would
    /// break drop-in use. Type errors in fields that are known are still 400s.
    /// </summary>
    public void WarnUnknown(IReadOnlySet<string> known, ILogger logger, string route)
    {
        List<string>? unknown = null;
        foreach (var p in Root.EnumerateObject())
            if (!known.Contains(p.Name)) (unknown ??= []).Add(p.Name);
        if (unknown != null && logger.IsEnabled(LogLevel.Warning))
            logger.LogWarning("{Route}: ignoring unknown request fields {Fields}", route, string.Join(", ", unknown));
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
