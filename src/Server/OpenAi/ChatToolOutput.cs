using InferenceServer.Server.ToolCalling;

namespace InferenceServer.Server.OpenAi;

/// <summary>
/// Turns a choice's text into OpenAI's assistant message or stream deltas when tool calls are read from it: content
/// before the calls, then <c>tool_calls</c> with fresh ids, and finish_reason "tool_calls" when the model chose to call.
/// </summary>
public static class ChatToolOutput
{
    /// <summary>The whole message; <paramref name="tools"/> null or not parsing: the text as content.</summary>
    public static (ChatMessageDto Message, bool Called) Message(string text, ChatTools? tools)
    {
        if (tools is not { ParsesOutput: true })
            return (new ChatMessageDto("assistant", text), false);
        var (content, calls) = tools.Parser!.Parse(tools.Prefix + text + tools.Suffix);
        if (calls.Count == 0)
            return (new ChatMessageDto("assistant", text), false);
        if (tools.Forced)
            content = null;
        if (!tools.ParallelToolCalls)
            calls = calls.Take(1).ToList();
        var dtos = calls.Select(c => new ToolCallDto(tools.Parser.NewCallId(), "function", new FunctionCallDto(c.Name, c.Arguments))).ToList();
        return (new ChatMessageDto("assistant", content, dtos), true);
    }

    /// <summary>
    /// "tool_calls" when calls were made and the output ended by itself; a named tool_choice keeps "stop", as at OpenAI
    /// (the caller, not the model, chose to call).
    /// </summary>
    public static string Finish(string finish, bool called, ChatTools? tools) =>
        called && finish == "stop" && tools?.Mode != ToolChoiceMode.Named ? "tool_calls" : finish;

    /// <summary>
    /// The delta for the next piece of streamed text: content that is safe to send and the calls that completed, each
    /// sent whole (id, type, name and arguments in one delta; clients join deltas by index either way).
    /// <paramref name="last"/>: the output ended, so held-back text goes out. Null when there is nothing to send yet.
    /// </summary>
    public static ChatDeltaDto? Delta(ToolCallStream stream, ChatTools tools, string textDelta, bool last, ref int sent)
    {
        var (content, calls) = stream.Push(last ? textDelta + tools.Suffix : textDelta);
        if (last)
            content += stream.Finish();
        if (!tools.ParallelToolCalls)
            calls = calls.Take(Math.Max(0, 1 - sent)).ToList();
        List<ToolCallDeltaDto>? deltas = null;
        foreach (var call in calls)
            (deltas ??= []).Add(new ToolCallDeltaDto(sent++, tools.Parser!.NewCallId(), "function", new FunctionCallDeltaDto(call.Name, call.Arguments)));
        if (content.Length == 0 && deltas is null)
            return null;
        return new ChatDeltaDto(null, content.Length > 0 ? content : null, deltas);
    }
}
