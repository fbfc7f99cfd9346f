namespace InferenceServer.Engine.Serving;

/// <summary>Counters the engine thread updates and observability reads (plain fields: single writer).</summary>
public sealed class EngineStats
{
    public long Preemptions;
    public long Steps;
    public long TokensProcessed;
    public long FinishedStop;
    public long FinishedLength;
    public long Aborted;

    internal void StepTokens(int n)
    {
        Interlocked.Increment(ref Steps);
        Interlocked.Add(ref TokensProcessed, n);
    }

    internal void Finished(FinishReason reason)
    {
        switch (reason)
        {
            case FinishReason.Stop: Interlocked.Increment(ref FinishedStop); break;
            case FinishReason.Length: Interlocked.Increment(ref FinishedLength); break;
            default: Interlocked.Increment(ref Aborted); break;
        }
    }
}
