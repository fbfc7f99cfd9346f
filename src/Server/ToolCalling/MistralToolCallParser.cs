using System.Security.Cryptography;

namespace InferenceServer.Server.ToolCalling;

/// <summary>
/// Mistral (vLLM <c>mistral</c>): <c>[TOOL_CALLS]</c> followed by a JSON list of <c>{"name": ..., "arguments": {...}}</c>;
/// text before it is content. [TOOL_CALLS] is a special token in Mistral's vocabulary, so decoding keeps special tokens,
/// and call ids are 9 alphanumerics, the only ids Mistral's template accepts back.
/// </summary>
public sealed class MistralToolCallParser : ToolCallParser
{
    public const string Marker = "[TOOL_CALLS]";
    private const string IdAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    public override string Name => "mistral";

    public override bool NeedsSpecialTokens => true;

    /// <summary>A forced call is the list form with one call: the prompt ends with "[TOOL_CALLS] [".</summary>
    public override string ForcedPrefix => Marker + " [";

    public override string ForcedSuffix => "]";

    public override int FindStart(string text) => text.IndexOf(Marker, StringComparison.Ordinal);

    public override int PossibleStartSuffix(string text) => MarkerPrefixSuffix(text, Marker);

    public override string NewCallId() => RandomNumberGenerator.GetString(IdAlphabet, 9);

    public override (List<ParsedToolCall> Calls, bool Malformed) ReadCalls(string section)
    {
        var calls = new List<ParsedToolCall>();
        var i = JsonScan.SkipWhitespace(section, Marker.Length);
        if (i >= section.Length)
            return (calls, false);
        return section[i] == '[' ? ReadList(section, i, calls) : ReadNamed(section, calls);
    }

    /// <summary>Tokenizers before v11: <c>[TOOL_CALLS] [{"name": ..., "arguments": {...}}, ...]</c>; text after the list is ignored, as in vLLM.</summary>
    private static (List<ParsedToolCall>, bool) ReadList(string section, int open, List<ParsedToolCall> calls)
    {
        var i = JsonScan.SkipWhitespace(section, open + 1);
        while (i < section.Length)
        {
            if (section[i] == ']')
                return (calls, false);
            if (section[i] != '{')
                return (calls, true);
            var end = JsonScan.ValueEnd(section, i);
            if (end < 0)
                return (calls, false);
            if (ReadCallObject(section[i..end], allowParameters: false) is not { } call)
                return (calls, true);
            calls.Add(call);
            i = JsonScan.SkipWhitespace(section, end);
            if (i < section.Length && section[i] == ',')
                i = JsonScan.SkipWhitespace(section, i + 1);
            else if (i < section.Length && section[i] != ']')
                return (calls, true);
        }
        return (calls, false);
    }

    /// <summary>Tokenizers v11 and later: <c>[TOOL_CALLS]name{...}</c>, repeated for each call.</summary>
    private static (List<ParsedToolCall>, bool) ReadNamed(string section, List<ParsedToolCall> calls)
    {
        var i = 0;
        while (i < section.Length)
        {
            if (!section.AsSpan(i).StartsWith(Marker))
                return (calls, !Marker.StartsWith(section[i..], StringComparison.Ordinal));
            var brace = section.IndexOf('{', i + Marker.Length);
            if (brace < 0)
                return (calls, false);
            var name = section[(i + Marker.Length)..brace].Trim();
            if (name.Length == 0)
                return (calls, true);
            var end = JsonScan.ValueEnd(section, brace);
            if (end < 0)
                return (calls, false);
            var arguments = section[brace..end];
            if (!IsJson(arguments))
                return (calls, true);
            calls.Add(new ParsedToolCall(name, arguments));
            i = JsonScan.SkipWhitespace(section, end);
        }
        return (calls, false);
    }

    private static bool IsJson(string text)
    {
        try
        {
            using var _ = System.Text.Json.JsonDocument.Parse(text);
            return true;
        }
        catch (System.Text.Json.JsonException)
        {
            return false;
        }
    }

    /// <summary>A list form must be closed (text after it is ignored); the named form is complete after each call.</summary>
    protected override bool IsComplete(string section, int count)
    {
        if (ReadCalls(section) is not { Malformed: false } r || r.Calls.Count != count)
            return false;
        var open = JsonScan.SkipWhitespace(section, Marker.Length);
        return section[open] != '[' || JsonScan.ValueEnd(section, open) > 0;
    }
}
