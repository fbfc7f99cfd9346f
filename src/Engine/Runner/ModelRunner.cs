using InferenceServer.Engine.Batching;
using InferenceServer.Engine.Kernels;
using InferenceServer.Engine.KvCache;
using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Models;
using InferenceServer.Engine.Parallel;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Runtime;
using InferenceServer.Engine.Sampling;
using InferenceServer.Engine.Scheduling;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Runner;

/// <summary>
/// Runs scheduled steps on one device: keeps the persistent input batch, builds each step's inputs from it, runs the
/// forward pass (a replayed CUDA graph for decode steps where one was captured) and the sampler, and queues the
/// samples' copy to the host. The KV pool and the graphs are made by explicit start-up steps. Under tensor
/// parallelism there is one runner per rank, each with its share of the model and its own KV pool; rank 0 samples
/// and the others receive its tokens.
/// </summary>
public sealed class ModelRunner : IDisposable
{
    private readonly ICausalLM _model;
    private readonly Sampler _sampler;
    private readonly NativeKernels? _kernels;          // CUDA only
    private readonly CpuThreadPolicy? _cpuThreads;
    private readonly StepProfiler? _profiler;
    private readonly ICommunicator? _comm;             // tensor parallelism: this runner's rank
    private readonly long _profiledStep = StepProfiler.CudaProfiledStep();
    private readonly InputBatch _batch = new();
    private readonly OutOfMemoryFault? _oomFault = OutOfMemoryFault.FromEnvironment();
    private readonly IntPtr[]? _readbackEvents;        // native kernels: mark the two alive steps' readbacks
    private KvCachePool? _cache;
    private DecodeGraphRunner? _graphs;
    private LaunchedStep? _last;                       // the newest launched step: its samples may feed the next
    private int _nextEvent, _scratchBlock;
    private long _stepIndex;

    /// <param name="comm">This runner's rank when the model is split across ranks; null for a whole model.</param>
    public ModelRunner(ICausalLM model, IReadOnlyCollection<int> eosTokenIds, StepProfiler? profiler, ICommunicator? comm = null)
    {
        _model = model;
        _comm = comm is SingleRankCommunicator ? null : comm;
        _kernels = model.Kernels;
        _sampler = new Sampler(eosTokenIds, kernels: _kernels);
        _profiler = profiler;
        var c = model.Config;
        if (model.Device.type == TorchSharp.DeviceType.CPU && (_comm?.Rank ?? 0) == 0)   // one rank sets the process's thread count
            // Multiply-adds per token of the linear layers, about (attention 4·H² + MLP 3·H·I) per layer.
            _cpuThreads = new CpuThreadPolicy((long)c.NumLayers * (4L * c.HiddenSize * c.HiddenSize + 3L * c.HiddenSize * c.IntermediateSize));
        if (_kernels is not null) _readbackEvents = [_kernels.EventNew(), _kernels.EventNew()];
    }

    public ICausalLM Model => _model;

    /// <summary>Start-up: allocates the KV pool. <paramref name="scratchBlock"/> is a block no request owns.</summary>
    public void InitializeKvCache(int blocks, int blockSize, int scratchBlock)
    {
        var c = _model.Config;
        _cache = new KvCachePool(c.NumLayers, blocks, blockSize, _model.KvHeads, c.HeadDim, _model.Dtype, _model.Device);
        _scratchBlock = scratchBlock;
    }

    private KvCachePool Cache => _cache ?? throw new InvalidOperationException("the KV pool is not initialised");

    /// <summary>Start-up: one forward pass of a one-token request in the scratch block, so the first client does not pay for lazy initialisation.</summary>
    public void WarmUp()
    {
        using var scope = NewDisposeScope();
        using var batch = ForwardBatchBuilder.Build([new SequenceChunk([_model.Config.BosTokenId ?? 0], 0, [_scratchBlock])], Cache.BlockSize, _model.Device);
        _model.Forward(batch, Cache).cpu();
    }

    /// <summary>Start-up: captures a decode graph per batch size up to <paramref name="maxNumSeqs"/>; returns the sizes.</summary>
    public IReadOnlyList<int> CaptureGraphs(int maxNumSeqs, int maxModelLen)
    {
        if (_kernels is null) return [];
        var sizes = new[] { 1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256 }.Where(s => s <= maxNumSeqs).ToArray();
        // Outside any dispose scope: the graphs' static inputs and outputs live as long as the runner.
        _graphs = new DecodeGraphRunner(_kernels, _model, Cache, sizes, maxModelLen, _scratchBlock);
        return sizes;
    }

    /// <summary>Queues the step's forward pass and sampling on the device, and the copy of the samples to the host.</summary>
    /// <returns>The step's samples on their way to the host, or null when no row samples.</returns>
    public IPendingRunnerOutput? Execute(SchedulerOutput step)
    {
        _profiler?.Start();
        _batch.Apply(step);
        using var scope = NewDisposeScope();
        var inputs = StepInputs.Build(step, _batch, _last);
        _oomFault?.OnStep();
        var logits = Forward(inputs);                                                    // [rows, V] float32
        var promptLogprobs = new Dictionary<string, IReadOnlyList<OutputLogprob?>>();
        var sampleRows = new List<long>();
        var sampled = new List<RunnerRequestState>();
        int row = 0;
        for (int i = 0; i < step.Scheduled.Count; i++)
        {
            var (s, st) = (step.Scheduled[i], inputs.States[i]);
            var chunk = inputs.Chunks[i];
            int rows = chunk.AllLogits ? s.NumTokens : 1;
            if (chunk.AllLogits)
                (st.PendingPromptLogprobs ??= []).AddRange(PromptLogprobs.Compute(logits.narrow(0, row, rows), st.Tokens, st.PromptLength, st.NumComputed, st.PromptLogprobs!.Value));
            st.NumComputed += s.NumTokens;
            if (s.Samples)
            {
                sampleRows.Add(row + rows - 1);
                sampled.Add(st);
                if (st.PendingPromptLogprobs is { } p) { promptLogprobs[st.Id] = [null, .. p]; st.PendingPromptLogprobs = null; }
            }
            row += rows;
        }
        if (sampled.Count == 0) return null;
        // A decode step samples every row in order: no gather (and no host→device copy of the row list) needed.
        bool identity = sampleRows.Count == logits.shape[0] && sampleRows.Select((r, i) => r == i).All(x => x);
        var rowsToSample = identity ? logits : logits.index_select(0, HostToDevice.Copy(sampleRows.ToArray(), logits.device));
        _profiler?.Lap("sample-prep");
        var samples = Sample(rowsToSample, sampled.Select(s => s.SamplingInput).ToArray());
        IntPtr readbackEvent = IntPtr.Zero;
        if (_readbackEvents is not null)   // otherwise Read copies synchronously
        {
            samples.BeginReadback();
            readbackEvent = _readbackEvents[_nextEvent];
            _nextEvent ^= 1;   // at most two steps are alive: the one in flight and this one
            _kernels!.EventRecord(readbackEvent);
        }
        var tokenIndex = new int[sampled.Count];
        for (int i = 0; i < sampled.Count; i++)
        {
            tokenIndex[i] = sampled[i].Tokens.Count;
            sampled[i].Tokens.Add(Request.Placeholder);
        }
        // Penalties count a row's tokens on the host, and a constraint advances over them before the next mask.
        bool needsHostTokens = sampled.Any(s => s.SamplingInput.Parameters is { Constraint: not null } or { HasRepetitionPenalty: true } or { HasFrequencyOrPresencePenalty: true });
        _profiler?.Lap("sample");
        return _last = new LaunchedStep(_batch, sampled.Select(s => s.Id).ToArray(), tokenIndex, samples, _kernels, readbackEvent,
            needsHostTokens, promptLogprobs.Count == 0 ? null : promptLogprobs);
    }

    /// <summary>
    /// Samples the rows; under tensor parallelism rank 0 draws (a request's seeded generator must advance once per
    /// step) and the others receive its tokens, so every rank feeds the same ids to the next step.
    /// </summary>
    private DeviceSamples Sample(Tensor logits, SequenceSamplingInput[] rows)
    {
        if (_comm is null) return _sampler.SampleOnDevice(logits, rows);
        var samples = _comm.Rank == 0 ? _sampler.SampleOnDevice(logits, rows) : _sampler.Expect(rows, (int)logits.shape[1], logits.device);
        samples.Broadcast(_comm, 0);
        return samples;
    }

    /// <summary>The forward pass: a replayed decode graph where one fits, else eager. The profile's host phase ends
    /// once the inputs are on their way to the device.</summary>
    private Tensor Forward(StepInputs inputs)
    {
        int graph = _graphs?.Prepare(inputs.Chunks, inputs.Feed) ?? 0;
        ForwardBatch? batch = null;
        if (graph == 0)
        {
            batch = ForwardBatchBuilder.Build(inputs.Chunks, Cache.BlockSize, _model.Device);
            inputs.Feed?.Apply(batch.TokenIds);
            _cpuThreads?.BeforeStep(batch.NumTokens);
        }
        _profiler?.Lap(graph > 0 ? "decode-graph" : inputs.AllDecode ? "decode" : "mixed", "host-before");
        bool bracket = _kernels is not null && _stepIndex++ == _profiledStep;
        if (bracket) _kernels!.ProfilerRange(start: true);
        Tensor logits;
        using (batch)
            logits = graph > 0 ? _graphs!.Replay(graph, inputs.Chunks.Length) : _model.Forward(batch!, Cache);
        if (bracket)
        {
            cuda.synchronize();
            _kernels!.ProfilerRange(start: false);
        }
        if (_profiler is not null)
        {
            if (logits.device.type == TorchSharp.DeviceType.CUDA) cuda.synchronize();
            _profiler.Lap("forward");
        }
        return logits;
    }

    public void Dispose()
    {
        if (_readbackEvents is not null)
            foreach (var e in _readbackEvents) _kernels!.EventDelete(e);
        _graphs?.Dispose();
        _cache?.Dispose();
        _sampler.Dispose();
    }
}
