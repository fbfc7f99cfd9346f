using InferenceServer.Engine.Runner;
using InferenceServer.Engine.Scheduling;

namespace InferenceServer.Engine.Executor;

/// <summary>
/// Runs scheduled steps on the device(s) behind one interface, so the engine core does not know how many GPUs there
/// are (vLLM v1's Executor). The start-up steps come first, in order: sizing, KV cache, warm-up, graphs.
/// </summary>
public interface IExecutor : IDisposable
{
    /// <summary>KV blocks that fit the memory the settings allow (on CUDA, after a profiling forward pass).</summary>
    int DetermineNumKvBlocks(KvPoolSettings settings, Action<string> log);

    void InitializeKvCache(int blocks, int blockSize, int scratchBlock);

    void WarmUp();

    /// <summary>Captures the decode CUDA graphs (none without the native kernels); returns the batch sizes captured.</summary>
    IReadOnlyList<int> CaptureGraphs(int maxNumSeqs, int maxModelLen);

    /// <summary>Queues a step; returns its output on the way to the host, or null when no row samples.</summary>
    IPendingRunnerOutput? Execute(SchedulerOutput step);
}
