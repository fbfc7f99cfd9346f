namespace InferenceServer.Server.Hosting;

/// <summary>
/// The tokens of one HTTP request or gRPC call, for its log line: <see cref="RequestLog"/> opens one per request and
/// <see cref="DrainingEngine"/> adds every engine request submitted under it (n choices, several prompts).
/// Carried in an AsyncLocal so the endpoints need no change to report their tokens.
/// </summary>
public sealed class RequestTally
{
    private static readonly AsyncLocal<RequestTally?> Slot = new();
    private int _prompt, _completion;

    /// <summary>The tally of the request being handled on this async flow, or null (outside the request pipeline).</summary>
    public static RequestTally? Current
    {
        get => Slot.Value;
        set => Slot.Value = value;
    }

    public int PromptTokens => Volatile.Read(ref _prompt);
    public int CompletionTokens => Volatile.Read(ref _completion);

    public void Add(int prompt, int completion)
    {
        Interlocked.Add(ref _prompt, prompt);
        Interlocked.Add(ref _completion, completion);
    }
}
