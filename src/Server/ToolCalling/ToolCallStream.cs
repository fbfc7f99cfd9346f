namespace InferenceServer.Server.ToolCalling;

/// <summary>
/// Splits one choice's streamed text into content deltas and tool calls as they complete. Text that might begin the
/// start marker is held back until the next delta decides; once the marker is seen, text goes to the parser and each
/// call is handed out whole (name and arguments) when its JSON closes. Output that turns out not to be tool-call
/// syntax is handed out as content, so nothing the model wrote is lost.
/// </summary>
/// <param name="prefix">Text the output continues (a forced call's <see cref="ToolCallParser.ForcedPrefix"/>): parsed, never sent as content.</param>
public sealed class ToolCallStream(ToolCallParser parser, string prefix = "")
{
    private string _text = prefix;
    private int _contentSent = prefix.Length;
    private int _start = -1;
    private bool _plain;

    /// <summary>Calls handed out so far.</summary>
    public int CallCount { get; private set; }

    /// <summary>Takes the next piece of text; returns the content that is now safe to send and the calls that completed.</summary>
    public (string Content, List<ParsedToolCall> Calls) Push(string delta)
    {
        _text += delta;
        if (_plain)
            return (TakeContent(_text.Length), []);
        if (_start < 0)
        {
            _start = parser.FindStart(_text);
            if (_start < 0)
                return (TakeContent(_text.Length - parser.PossibleStartSuffix(_text)), []);
        }
        var content = TakeContent(_start);
        var (calls, malformed) = parser.ReadCalls(_text[_start..]);
        if (malformed && CallCount == 0)
        {
            // Not tool-call syntax after all: everything from the marker on is ordinary text.
            _plain = true;
            return (content + TakeContent(_text.Length), []);
        }
        var fresh = calls.Skip(CallCount).ToList();
        CallCount = calls.Count;
        return (content, fresh);
    }

    /// <summary>The end of the output: held-back text, or a tool section that never produced a call, becomes content.</summary>
    public string Finish()
    {
        if (_start >= 0 && !_plain && CallCount > 0)
            return "";
        return TakeContent(_text.Length);
    }

    private string TakeContent(int end)
    {
        if (end <= _contentSent)
            return "";
        var s = _text[_contentSent..end];
        _contentSent = end;
        return s;
    }
}
