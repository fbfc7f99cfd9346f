using InferenceServer.Engine.Requests;

namespace InferenceServer.Engine.Metrics;

/// <summary>Counters the engine thread updates and observability reads (plain fields: single writer).</summary>
public sealed class EngineStats
{
    public long Preemptions;
    public long Steps;
    public long TokensProcessed;
    public long FinishedStop;
    public long FinishedLength;
    public long Aborted;

    /// <summary>Steps that ran out of device memory; their requests ended with an error and serving went on.</summary>
    public long OutOfMemorySteps;

    /// <summary>Steps launched while the previous step's tokens were still on their way to the host (async scheduling).</summary>
    public long StepsLaunchedBeforeReadback;

    /// <summary>Prompt tokens looked up in the prefix cache, and those found (vLLM's prefix_cache_queries/hits);
    /// /metrics exports them as counters.</summary>
    public long PrefixCacheQueries;
    public long PrefixCacheHits;

    public void StepTokens(int n)
    {
        Interlocked.Increment(ref Steps);
        Interlocked.Add(ref TokensProcessed, n);
    }

    public void Finished(FinishReason reason)
    {
        switch (reason)
        {
            case FinishReason.Stop: Interlocked.Increment(ref FinishedStop); break;
            case FinishReason.Length: Interlocked.Increment(ref FinishedLength); break;
            default: Interlocked.Increment(ref Aborted); break;
        }
    }
}
