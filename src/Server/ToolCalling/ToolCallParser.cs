using System.Text.Json;

namespace InferenceServer.Server.ToolCalling;

/// <summary>One function call read from model output; <paramref name="Arguments"/> is a JSON text, as OpenAI sends it.</summary>
public sealed record ParsedToolCall(string Name, string Arguments);

/// <summary>
/// Where the tool-call syntax of a model family starts in its output and how the calls after that point read.
/// Implementations follow vLLM's parsers of the same name (<c>--tool-call-parser</c>).
/// </summary>
public abstract class ToolCallParser
{
    /// <summary>The vLLM name: hermes, llama3_json, mistral.</summary>
    public abstract string Name { get; }

    /// <summary>
    /// True when the markers are special tokens that decoding must keep (Mistral's [TOOL_CALLS]); vLLM turns
    /// skip_special_tokens off for such parsers too.
    /// </summary>
    public virtual bool NeedsSpecialTokens => false;

    /// <summary>
    /// For a forced call (tool_choice required or a named function): the text the prompt ends with, so the model
    /// continues inside its own call syntax, and the text that closes the call after the constrained JSON object.
    /// </summary>
    public virtual string ForcedPrefix => "";

    /// <inheritdoc cref="ForcedPrefix"/>
    public virtual string ForcedSuffix => "";

    /// <summary>The key of a call object that holds the arguments ("arguments"; Llama-3.1 writes "parameters").</summary>
    public virtual string ArgumentsKey => "arguments";

    /// <summary>The index where tool-call syntax begins in <paramref name="text"/>, or -1.</summary>
    public abstract int FindStart(string text);

    /// <summary>
    /// How many characters at the end of <paramref name="text"/> could be the beginning of the start marker; a stream
    /// holds them back as content until the next text shows whether they are.
    /// </summary>
    public abstract int PossibleStartSuffix(string text);

    /// <summary>
    /// The calls in <paramref name="section"/> (text from <see cref="FindStart"/> on) that are complete; Malformed is
    /// true when the section cannot be tool-call syntax whatever follows.
    /// </summary>
    public abstract (List<ParsedToolCall> Calls, bool Malformed) ReadCalls(string section);

    /// <summary>An id for a new call in this family's style (vLLM: chatcmpl-tool-&lt;hex&gt;; Mistral: 9 alphanumerics).</summary>
    public virtual string NewCallId() => "chatcmpl-tool-" + Guid.NewGuid().ToString("N");

    /// <summary>
    /// Splits a whole output into content and calls. Output whose tool-call part does not parse completely is all
    /// content with no calls, as in vLLM; content that is empty or whitespace before the calls is null.
    /// </summary>
    public (string? Content, List<ParsedToolCall> Calls) Parse(string output)
    {
        var start = FindStart(output);
        if (start < 0)
            return (output, []);
        var section = output[start..];
        var (calls, malformed) = ReadCalls(section);
        if (malformed || calls.Count == 0 || !IsComplete(section, calls.Count))
            return (output, []);
        var content = output[..start];
        return (string.IsNullOrWhiteSpace(content) ? null : content, calls);
    }

    /// <summary>True when nothing but whitespace and closing syntax follows the last of <paramref name="count"/> calls.</summary>
    protected abstract bool IsComplete(string section, int count);

    /// <summary>Reads {"name": ..., "arguments": {...}} (or "parameters"); null when the object is not a call.</summary>
    protected static ParsedToolCall? ReadCallObject(string json, bool allowParameters)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String)
                return null;
            if (!root.TryGetProperty("arguments", out var args) && !(allowParameters && root.TryGetProperty("parameters", out args)))
                return new ParsedToolCall(name.GetString()!, "{}");
            // A model that writes the arguments as a JSON string has already encoded them.
            var text = args.ValueKind == JsonValueKind.String ? args.GetString()! : args.GetRawText();
            return new ParsedToolCall(name.GetString()!, text);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Length of the longest suffix of <paramref name="text"/> that is a proper prefix of <paramref name="marker"/>.</summary>
    protected static int MarkerPrefixSuffix(string text, string marker)
    {
        for (var n = Math.Min(marker.Length - 1, text.Length); n > 0; n--)
        {
            if (text.AsSpan(text.Length - n).SequenceEqual(marker.AsSpan(0, n)))
                return n;
        }
        return 0;
    }
}
