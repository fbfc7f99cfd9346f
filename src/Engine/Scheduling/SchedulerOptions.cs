namespace InferenceServer.Engine.Scheduling;

/// <summary>Budgets of one engine step, with vLLM's flag names.</summary>
public sealed record SchedulerOptions
{
    /// <summary>--max-num-batched-tokens: tokens fed to the model in one step (prefill chunks plus decodes).</summary>
    public int MaxNumBatchedTokens { get; init; } = 2048;

    /// <summary>--max-num-seqs: sequences in one step.</summary>
    public int MaxNumSeqs { get; init; } = 64;

    /// <summary>Requests allowed to wait; beyond this, Submit refuses (HTTP 429).</summary>
    public int MaxWaiting { get; init; } = 256;
}
