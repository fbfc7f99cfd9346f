using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Models;
using InferenceServer.Engine.Parallel;
using InferenceServer.Engine.Runner;
using InferenceServer.Engine.Scheduling;

namespace InferenceServer.Engine.Executor;

/// <summary>
/// Tensor parallelism behind the executor interface (vLLM v1's multi-GPU executor, in one process): one
/// <see cref="ModelRunner"/> per rank, rank 0 on the engine thread and each other rank on a thread of its own. Every
/// call runs on all ranks at once (their forward passes meet in collectives) and returns when all have finished; the
/// core sees rank 0's results. Each rank sizes its own KV pool, and the group takes the smallest, since one scheduler
/// hands out the same block ids to every rank.
/// </summary>
public sealed class MultiRankExecutor : IExecutor
{
    private readonly ModelRunner[] _runners;
    private readonly ICommunicator[] _comms;
    private readonly RankWorker[] _workers;   // ranks 1..N-1

    /// <param name="ranks">The ranks' models, in rank order, and their communicators.</param>
    public MultiRankExecutor(IReadOnlyList<(ICausalLM Model, ICommunicator Comm)> ranks, IReadOnlyCollection<int> eosTokenIds, StepProfiler? profiler)
    {
        _runners = ranks.Select((r, i) => new ModelRunner(r.Model, eosTokenIds, i == 0 ? profiler : null, r.Comm)).ToArray();
        _comms = ranks.Select(r => r.Comm).ToArray();
        _workers = Enumerable.Range(1, ranks.Count - 1).Select(r => new RankWorker(r, _comms[r].Abort)).ToArray();
        // A GPU rank's thread makes its device current before anything else runs on it (the native kernels and the
        // memory queries work on the current device).
        OnAll((_, rank) =>
        {
            if (_comms[rank] is NcclCommunicator nccl) nccl.MakeDeviceCurrent();
            return 0;
        });
    }

    public int Size => _runners.Length;

    /// <summary>Each rank's model (its share of the weights).</summary>
    public IEnumerable<ICausalLM> Models => _runners.Select(r => r.Model);

    public int DetermineNumKvBlocks(KvPoolSettings settings, Action<string> log)
    {
        var blocks = OnAll((runner, rank) => KvPoolSizing.Blocks(runner.Model, settings, m => log($"rank {rank}: {m}")));
        if (blocks.Distinct().Count() > 1) log($"KV blocks per rank: {string.Join(", ", blocks)}; every rank uses {blocks.Min()}");
        return blocks.Min();
    }

    public void InitializeKvCache(int blocks, int blockSize, int scratchBlock) =>
        OnAll((r, _) => { r.InitializeKvCache(blocks, blockSize, scratchBlock); return 0; });

    public void WarmUp() => OnAll((r, _) => { r.WarmUp(); return 0; });

    public IReadOnlyList<int> CaptureGraphs(int maxNumSeqs, int maxModelLen) => OnAll((r, _) => r.CaptureGraphs(maxNumSeqs, maxModelLen))[0];

    public IPendingRunnerOutput? Execute(SchedulerOutput step)
    {
        var outputs = OnAll((r, _) => r.Execute(step));
        if (outputs[0] is null) return null;   // no row sampled: the same on every rank
        return new MultiRankPendingOutput(outputs!);
    }

    /// <summary>Runs <paramref name="work"/> on every rank at once; the first failure breaks the group and is rethrown.</summary>
    private T[] OnAll<T>(Func<ModelRunner, int, T> work)
    {
        var others = _workers.Select((w, i) => w.Post(() => work(_runners[i + 1], i + 1))).ToArray();
        T first;
        try
        {
            first = work(_runners[0], 0);
        }
        catch (Exception e)
        {
            _comms[0].Abort(e);
            Task.WaitAll(others.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)).ToArray());
            throw;
        }
        try
        {
            Task.WaitAll(others);
        }
        catch (AggregateException e)
        {
            throw new InvalidOperationException($"a tensor-parallel rank failed: {e.InnerExceptions[0].Message}", e.InnerExceptions[0]);
        }
        return [first, .. others.Select(t => t.Result)];
    }

    public void Dispose()
    {
        foreach (var w in _workers) w.Dispose();
        foreach (var r in _runners) r.Dispose();
    }

    /// <summary>A step's outputs on all ranks: waiting fills every rank's placeholders; the core reads rank 0's.</summary>
    private sealed class MultiRankPendingOutput(IPendingRunnerOutput[] ranks) : IPendingRunnerOutput
    {
        public bool NeedsHostTokens => ranks[0].NeedsHostTokens;

        public RunnerOutput Wait()
        {
            for (int r = 1; r < ranks.Length; r++) ranks[r].Wait();
            return ranks[0].Wait();
        }

        public void Dispose()
        {
            foreach (var r in ranks) r.Dispose();
        }
    }
}
