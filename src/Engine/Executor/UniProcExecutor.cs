using InferenceServer.Engine.Runner;
using InferenceServer.Engine.Scheduling;

namespace InferenceServer.Engine.Executor;

/// <summary>One model runner on one device, called on the engine thread.</summary>
public sealed class UniProcExecutor(ModelRunner runner) : IExecutor
{
    public int DetermineNumKvBlocks(KvPoolSettings settings, Action<string> log) => KvPoolSizing.Blocks(runner.Model, settings, log);

    public void InitializeKvCache(int blocks, int blockSize, int scratchBlock) => runner.InitializeKvCache(blocks, blockSize, scratchBlock);

    public void WarmUp() => runner.WarmUp();

    public IReadOnlyList<int> CaptureGraphs(int maxNumSeqs, int maxModelLen) => runner.CaptureGraphs(maxNumSeqs, maxModelLen);

    public IPendingRunnerOutput? Execute(SchedulerOutput step) => runner.Execute(step);

    public void Dispose() => runner.Dispose();
}
