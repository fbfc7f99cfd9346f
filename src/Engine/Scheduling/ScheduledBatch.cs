namespace InferenceServer.Engine.Scheduling;

/// <summary>One sequence's share of a step: feed tokens [NumComputed, NumComputed + NumTokens).</summary>
public sealed record ScheduledSequence(Sequence Sequence, int NumTokens)
{
    /// <summary>True when this step reaches the end of the sequence's tokens, so a new token is sampled.</summary>
    public bool Samples => Sequence.NumComputed + NumTokens == Sequence.Tokens.Count;
}

public sealed record ScheduledBatch(IReadOnlyList<ScheduledSequence> Sequences, IReadOnlyList<Sequence> Preempted)
{
    public int NumTokens => Sequences.Sum(s => s.NumTokens);
}
