namespace InferenceServer.Server.ToolCalling;

/// <summary>
/// Llama-3.1/3.2 JSON tool calls (vLLM <c>llama3_json</c>): output that starts with <c>&lt;|python_tag|&gt;</c> or
/// <c>{</c> is one or more <c>{"name": ..., "parameters": {...}}</c> objects separated by <c>;</c>; anything else is content.
/// </summary>
public sealed class Llama3JsonToolCallParser : ToolCallParser
{
    public const string PythonTag = "<|python_tag|>";

    public override string Name => "llama3_json";

    /// <summary>
    /// True for the parser a forced call uses when the server has none: the call object is written with "arguments",
    /// OpenAI's word, instead of Llama-3.1's "parameters" (both are read either way).
    /// </summary>
    public bool PlainArguments { get; init; }

    public override string ArgumentsKey => PlainArguments ? "arguments" : "parameters";

    public override int FindStart(string text)
    {
        var i = JsonScan.SkipWhitespace(text, 0);
        if (i < text.Length && text[i] == '{')
            return i;
        return text.AsSpan(i).StartsWith(PythonTag) ? i : -1;
    }

    /// <summary>Only the very start can open a call: hold back leading whitespace and a partial python tag.</summary>
    public override int PossibleStartSuffix(string text)
    {
        var i = JsonScan.SkipWhitespace(text, 0);
        return i == text.Length || PythonTag.StartsWith(text[i..], StringComparison.Ordinal) ? text.Length : 0;
    }

    public override (List<ParsedToolCall> Calls, bool Malformed) ReadCalls(string section)
    {
        var calls = new List<ParsedToolCall>();
        var i = JsonScan.SkipWhitespace(section, 0);
        if (section.AsSpan(i).StartsWith(PythonTag))
            i = JsonScan.SkipWhitespace(section, i + PythonTag.Length);
        while (i < section.Length)
        {
            if (section[i] != '{')
                return (calls, true);
            var end = JsonScan.ValueEnd(section, i);
            if (end < 0)
                return (calls, false);
            if (ReadCallObject(section[i..end], allowParameters: true) is not { } call)
                return (calls, true);
            calls.Add(call);
            i = JsonScan.SkipWhitespace(section, end);
            if (i < section.Length && section[i] == ';')
                i = JsonScan.SkipWhitespace(section, i + 1);
            else if (i < section.Length)
                return (calls, true);
        }
        return (calls, false);
    }

    protected override bool IsComplete(string section, int count) => ReadCalls(section) is { Malformed: false } r && r.Calls.Count == count;
}
