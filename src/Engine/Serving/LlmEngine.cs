using System.Runtime.CompilerServices;
using InferenceServer.Engine.Core;
using InferenceServer.Engine.Executor;
using InferenceServer.Engine.KvCache;
using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Models;
using InferenceServer.Engine.Models.Architectures;
using InferenceServer.Engine.Output;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Runner;
using InferenceServer.Engine.Scheduling;
using InferenceServer.Tokenization;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Serving;

/// <summary>
/// The serving engine as clients see it: validates requests, hands them to the <see cref="EngineCore"/>, and turns
/// each request's token stream into text on the reading side (<see cref="RequestOutputProcessor"/>). Construction
/// only records the settings; <see cref="Start"/> runs the start-up steps in order: KV-pool sizing, the pool, then
/// on the engine thread warm-up and CUDA-graph capture. A <see cref="ShardedModel"/> is served by a
/// <see cref="MultiRankExecutor"/>, one runner per tensor-parallel rank; the core and scheduler are the same.
/// </summary>
public sealed class LlmEngine(ICausalLM model, ITokenizer tokenizer, TokenizerConfig tokenizerConfig, EngineOptions options, Action<string>? log = null)
    : IInferenceEngine, IDisposable
{
    private readonly Action<string> _log = log ?? (_ => { });
    private readonly ShardedModel? _sharded;
    private readonly int[] _eosTokenIds = model.Config.EosTokenIds.Concat(tokenizer.EosTokenId is int e ? [e] : Array.Empty<int>()).Distinct().ToArray();
    private EngineCore? _core;
    private KvCacheManager? _kvCache;
    private IEngineObserver? _observer;
    private long _arrivals;

    /// <summary>Serves a model split across tensor-parallel ranks (rank 0's model answers for the whole).</summary>
    public LlmEngine(ShardedModel model, ITokenizer tokenizer, TokenizerConfig tokenizerConfig, EngineOptions options, Action<string>? log = null)
        : this(model.Ranks[0], tokenizer, tokenizerConfig, options, log) => _sharded = model;

    /// <summary>The tensor-parallel size and one rank's memory (weights, and the KV pool once started).</summary>
    public ParallelInfo Parallel { get; private set; } = new(1, model.LinearWeightBytes, 0);

    public ModelConfig Config => model.Config;
    public ITokenizer Tokenizer => tokenizer;
    public TokenizerConfig TokenizerConfig => tokenizerConfig;
    public ScalarType Dtype => model.Dtype;
    public int MaxModelLen { get; } = Math.Min(options.MaxModelLen ?? model.Config.MaxPositionEmbeddings, model.Config.MaxPositionEmbeddings);
    public bool IsReady => _core?.IsReady == true;
    public EngineStats Stats { get; } = new();

    /// <summary>Whether steps are launched before the previous step's tokens reach the host (see <see cref="EngineOptions.AsyncScheduling"/>).</summary>
    public bool AsyncScheduling { get; } = (options.AsyncScheduling ?? model.Kernels is not null) && (model.Kernels is not null || model.Device.type == TorchSharp.DeviceType.CPU);

    /// <summary>Receives per-request timings and per-step counts; may be set before or after <see cref="Start"/>.</summary>
    public IEngineObserver? Observer
    {
        get => _observer;
        set
        {
            _observer = value;
            if (_core is not null) _core.Observer = value;
        }
    }

    private EngineCore Core => _core ?? throw new InvalidOperationException("The engine has not been started.");

    /// <summary>What stopped the engine thread (during warm-up or a step), or null while it runs.</summary>
    public Exception? Failure => _core?.Failure;

    /// <summary>Sizes and allocates the KV pool, then starts the engine thread, which warms up and captures graphs before serving.</summary>
    public void Start()
    {
        if (_core is not null) throw new InvalidOperationException("The engine was started already.");
        var s = options.Scheduler;
        var profiler = StepProfiler.FromEnvironment();   // one timeline: the runner's phases and the core's output phase
        IExecutor executor = _sharded is null
            ? new UniProcExecutor(new ModelRunner(model, _eosTokenIds, profiler))
            : new MultiRankExecutor(_sharded.Ranks.Zip(_sharded.Communicators).ToArray(), _eosTokenIds, profiler);
        var settings = new KvPoolSettings(options.BlockSize, options.CpuKvCacheSpaceGiB, options.GpuMemoryUtilization, Math.Max(s.MaxNumBatchedTokens, s.MaxNumSeqs), MaxModelLen, s.MaxNumSeqs);
        int blocks = options.NumKvBlocks ?? executor.DetermineNumKvBlocks(settings, _log);
        Parallel = EngineStartup.LogPool(model, _sharded?.Size, blocks, options.BlockSize, MaxModelLen, _log);
        _kvCache = new KvCacheManager(new BlockAllocator(blocks, options.BlockSize, options.EnablePrefixCaching));
        int scratch = model.Kernels is not null ? _kvCache.ReserveScratchBlock() : 0;   // CPU warm-up writes block 0 before anyone owns it
        executor.InitializeKvCache(blocks, options.BlockSize, scratch);
        var coreOptions = new EngineCoreOptions(AsyncScheduling, s.MaxWaiting + s.MaxNumSeqs, profiler);
        _core = new EngineCore(new Scheduler(s, _kvCache), executor, new StopChecker(_eosTokenIds, MaxModelLen), coreOptions, Stats, _log) { Observer = _observer };
        _core.Start(() => EngineStartup.WarmUpAndCapture(executor, model, options, MaxModelLen, _log));
    }

    public EngineLoad GetLoad() => _core?.Load ?? new EngineLoad(0, 0, 0, 0, options.BlockSize);

    /// <summary>Prompt tokens looked up in / served from the prefix cache so far.</summary>
    public (long Queries, long Hits) PrefixCacheCounters => (Stats.PrefixCacheQueries, Stats.PrefixCacheHits);

    public IAsyncEnumerable<GenerationOutput> Submit(GenerationRequest request, CancellationToken cancellationToken)
    {
        var core = Core;
        if (core.Failure is { } failure)
            throw new InvalidOperationException($"The engine stopped after an internal error: {failure.Message}");
        RequestValidation.Validate(request, Config.VocabSize, MaxModelLen, _kvCache!);
        int maxTokens = Math.Min(request.Sampling.MaxTokens ?? int.MaxValue, MaxModelLen - request.PromptTokenIds.Count);
        // A constraint finishes its output within the budget it is told about: tell it the effective one.
        if (request.Sampling.Constraint is not null && request.Sampling.MaxTokens != maxTokens)
            request = request with { Sampling = request.Sampling with { MaxTokens = maxTokens } };
        var active = new ActiveRequest(new Request(request, Interlocked.Increment(ref _arrivals), maxTokens));
        if (!core.TryAdd(active))
            throw new QueueFullException($"The server is at capacity ({options.Scheduler.MaxWaiting} requests waiting); retry later.");
        return Read(active, core, cancellationToken);
    }

    /// <summary>
    /// The request's stream, detokenized on the reader's thread. A stop string ends it here: the core is told (it only
    /// knows token-level stops), and the final output goes out once the core has let the request go.
    /// </summary>
    private async IAsyncEnumerable<GenerationOutput> Read(ActiveRequest active, EngineCore core, [EnumeratorCancellation] CancellationToken ct)
    {
        var processor = new RequestOutputProcessor(tokenizer, active.Request.Source);
        bool finished = false;
        using var reg = ct.Register(() => core.Abort(active, FinishReason.Abort));
        try
        {
            var reader = active.Output.Reader;
            while (!finished && await reader.WaitToReadAsync(ct).ConfigureAwait(false))
                while (!finished && reader.TryRead(out var o))
                {
                    var output = processor.Process(o);
                    finished = output.Finish is not null;
                    if (processor.StoppedOnString)
                    {
                        core.Abort(active, FinishReason.Stop, processor.OutputTokens);
                        while (await reader.WaitToReadAsync(ct).ConfigureAwait(false))   // tokens sampled before the core heard
                            while (reader.TryRead(out _)) { }
                    }
                    yield return output;
                }
        }
        finally
        {
            if (!finished) core.Abort(active, FinishReason.Abort);
        }
    }

    public void Dispose() => _core?.Dispose();
}
