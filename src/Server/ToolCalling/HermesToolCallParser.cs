namespace InferenceServer.Server.ToolCalling;

/// <summary>
/// Hermes / Qwen2.5 (vLLM <c>hermes</c>): each call is <c>&lt;tool_call&gt;{"name": ..., "arguments": {...}}&lt;/tool_call&gt;</c>;
/// text before the first call is content. A last call whose closing tag never came still counts when its JSON is whole.
/// </summary>
public sealed class HermesToolCallParser : ToolCallParser
{
    public const string Open = "<tool_call>";
    public const string Close = "</tool_call>";

    public override string Name => "hermes";

    public override string ForcedPrefix => Open + "\n";

    public override string ForcedSuffix => "\n" + Close;

    public override int FindStart(string text) => text.IndexOf(Open, StringComparison.Ordinal);

    public override int PossibleStartSuffix(string text) => MarkerPrefixSuffix(text, Open);

    public override (List<ParsedToolCall> Calls, bool Malformed) ReadCalls(string section)
    {
        var calls = new List<ParsedToolCall>();
        var i = 0;
        while (true)
        {
            i = JsonScan.SkipWhitespace(section, i);
            if (i >= section.Length)
                return (calls, false);
            if (!section.AsSpan(i).StartsWith(Open))
                return (calls, !Open.StartsWith(section[i..], StringComparison.Ordinal));
            i = JsonScan.SkipWhitespace(section, i + Open.Length);
            if (i >= section.Length)
                return (calls, false);
            var end = JsonScan.ValueEnd(section, i);
            if (end < 0)
                return (calls, section[i] != '{');
            if (ReadCallObject(section[i..end], allowParameters: false) is not { } call)
                return (calls, true);
            calls.Add(call);
            i = JsonScan.SkipWhitespace(section, end);
            if (i >= section.Length)
                return (calls, false);
            if (section.AsSpan(i).StartsWith(Close))
                i += Close.Length;
            else if (!Close.StartsWith(section[i..], StringComparison.Ordinal))
                return (calls, true);
            else
                return (calls, false);
        }
    }

    protected override bool IsComplete(string section, int count) => ReadCalls(section) is { Malformed: false } r && r.Calls.Count == count;
}
