using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using InferenceServer.Engine.Kernels;
using InferenceServer.Engine.KvCache;
using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models;
using InferenceServer.Engine.Runner;
using InferenceServer.Engine.Runtime;
using InferenceServer.Engine.Sampling;
using InferenceServer.Engine.Scheduling;
using InferenceServer.Tokenization;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Serving;

/// <summary>
/// The continuous-batching engine. One dedicated thread owns the model and the KV pool and loops:
/// take new requests and aborts → schedule → forward → sample → detokenize and stream out.
/// </summary>
public sealed class LlmEngine : IInferenceEngine, IDisposable
{
    private readonly ICausalLM _model;
    private readonly KvCachePool _cache;
    private readonly Scheduler _scheduler;
    private readonly Sampler _sampler;
    private readonly CpuThreadPolicy? _cpuThreads;
    private readonly NativeKernels? _kernels;          // CUDA only
    private readonly int _scratchBlock = -1;           // padding rows of graph-replayed batches write here
    private DecodeGraphRunner? _graphs;
    private readonly EngineOptions _options;
    private readonly Action<string> _log;
    private readonly StepProfiler? _profiler = StepProfiler.FromEnvironment();
    private readonly long _profiledStep = StepProfiler.CudaProfiledStep();
    private long _stepIndex;
    private readonly bool _asyncScheduling;
    private readonly IntPtr[]? _readbackEvents;        // native kernels: mark the two alive steps' readbacks
    private int _nextEvent;
    private InFlightStep? _inFlight;
    private readonly ConcurrentQueue<RequestState> _incoming = new();
    private readonly ConcurrentQueue<RequestState> _aborts = new();
    private readonly Dictionary<string, RequestState> _active = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly Thread _thread;
    private volatile bool _stopping;
    private volatile bool _ready;
    private long _arrivals;
    private int _pendingCount;
    private volatile EngineLoad _load;
    private volatile Exception? _failure;

    public ModelConfig Config => _model.Config;
    public ITokenizer Tokenizer { get; }
    public TokenizerConfig TokenizerConfig { get; }
    public int MaxModelLen { get; }
    public bool IsReady => _ready;
    public EngineStats Stats { get; } = new();
    public ICausalLM Model => _model;
    public ScalarType Dtype => _model.Dtype;

    /// <summary>Whether steps are launched before the previous step's tokens reach the host (see <see cref="EngineOptions.AsyncScheduling"/>).</summary>
    public bool AsyncScheduling => _asyncScheduling;

    /// <summary>Receives per-request timings and per-step counts (metrics, traces); may be set after Start (read per call).</summary>
    public IEngineObserver? Observer { get; set; }

    public LlmEngine(ICausalLM model, ITokenizer tokenizer, TokenizerConfig tokenizerConfig, EngineOptions options, Action<string>? log = null)
    {
        _model = model;
        Tokenizer = tokenizer;
        TokenizerConfig = tokenizerConfig;
        _options = options;
        _log = log ?? (_ => { });
        MaxModelLen = Math.Min(options.MaxModelLen ?? model.Config.MaxPositionEmbeddings, model.Config.MaxPositionEmbeddings);
        var c = model.Config;
        int blocks = options.NumKvBlocks ?? KvPoolSizing.Blocks(model, options, MaxModelLen, _log);
        int minBlocks = (MaxModelLen + options.BlockSize - 1) / options.BlockSize;
        if (blocks < minBlocks)
            _log($"warning: the KV pool of {blocks} blocks holds {blocks * options.BlockSize} tokens, less than --max-model-len {MaxModelLen}; long requests will be refused. Raise --kv-cache-space / --gpu-memory-utilization or lower --max-model-len.");
        _cache = new KvCachePool(c.NumLayers, blocks, options.BlockSize, c.NumKvHeads, c.HeadDim, model.Dtype, model.Device);
        _scheduler = new Scheduler(options.Scheduler, new BlockAllocator(blocks, options.BlockSize, options.EnablePrefixCaching));
        _load = new EngineLoad(0, 0, blocks, blocks, options.BlockSize);
        _log($"KV cache: {blocks} blocks of {options.BlockSize} tokens ({(long)blocks * options.BlockSize} tokens, " +
             $"{KvCachePool.BytesPerBlock(c.NumLayers, options.BlockSize, c.NumKvHeads, c.HeadDim, model.Dtype) * blocks / (1 << 20)} MiB)");
        _sampler = new Sampler(c.EosTokenIds.Concat(tokenizer.EosTokenId is int e ? [e] : Array.Empty<int>()).Distinct().ToArray());
        if (model.Device.type == TorchSharp.DeviceType.CPU)
            // Multiply-adds per token of the linear layers, about (attention 4·H² + MLP 3·H·I) per layer.
            _cpuThreads = new CpuThreadPolicy((long)c.NumLayers * (4L * c.HiddenSize * c.HiddenSize + 3L * c.HiddenSize * c.IntermediateSize));
        // Graphs and the paged kernel's inputs only make sense for a model built on the native kernels.
        _kernels = model.Kernels;
        if (model.Device.type == TorchSharp.DeviceType.CUDA && _kernels is null)
        {
            var why = !NativeKernels.TakesHeadDim(c.HeadDim)
                ? $"head_dim {c.HeadDim} is not a multiple of 8 up to {NativeKernels.MaxHeadDim}, which its attention kernels need"
                : NativeKernels.TryGet(out var reason) is null ? reason : "the model was built without it";
            _log($"CUDA without the native kernels ({why}): eager gather attention, no CUDA graphs");
        }
        if (_kernels is not null)
        {
            var scratch = new List<int>();
            _scheduler.Blocks.TryAllocate(1, scratch);
            _scratchBlock = scratch[0];
        }
        // The overlap needs the native library's events on CUDA; on CPU the device is the host, so it gains
        // nothing there by default (tests turn it on to check that it changes no output).
        _asyncScheduling = (options.AsyncScheduling ?? _kernels is not null) && (_kernels is not null || model.Device.type == TorchSharp.DeviceType.CPU);
        if (_kernels is not null) _readbackEvents = [_kernels.EventNew(), _kernels.EventNew()];
        _thread = new Thread(Run) { Name = "engine", IsBackground = true };
    }

    public void Start() => _thread.Start();

    public EngineLoad GetLoad() => _load;

    public IAsyncEnumerable<GenerationOutput> Submit(GenerationRequest request, CancellationToken cancellationToken)
    {
        if (_failure is not null)
            throw new InvalidOperationException($"The engine stopped after an internal error: {_failure.Message}");
        Validate(request);
        if (Interlocked.Increment(ref _pendingCount) > _options.Scheduler.MaxWaiting + _options.Scheduler.MaxNumSeqs)
        {
            Interlocked.Decrement(ref _pendingCount);
            throw new QueueFullException($"The server is at capacity ({_options.Scheduler.MaxWaiting} requests waiting); retry later.");
        }
        int maxTokens = Math.Min(request.Sampling.MaxTokens ?? int.MaxValue, MaxModelLen - request.PromptTokenIds.Count);
        var state = new RequestState(new Sequence(request, Interlocked.Increment(ref _arrivals)), Tokenizer, maxTokens);
        _incoming.Enqueue(state);
        _wake.Release();
        return Read(state, cancellationToken);
    }

    private void Validate(GenerationRequest r)
    {
        int n = r.PromptTokenIds.Count;
        if (n == 0)
            throw new ArgumentException("The prompt is empty.", "prompt");
        if (n >= MaxModelLen)
            throw new ArgumentException($"This model's maximum context length is {MaxModelLen} tokens. However, your prompt has {n} tokens, leaving no room for output.", "prompt");
        int vocab = Config.VocabSize;
        foreach (var id in r.PromptTokenIds)
            if (id < 0 || id >= vocab)
                throw new ArgumentException($"Token id {id} is out of vocabulary range [0, {vocab}).", "prompt");
        if (r.Sampling.MaxTokens is int m && n + m > MaxModelLen)
            throw new ArgumentException($"This model's maximum context length is {MaxModelLen} tokens. However, you requested {n + m} tokens ({n} in the prompt, {m} for the completion). Please reduce the length of the prompt or max_tokens.", "max_tokens");
        if (_scheduler.Blocks.BlocksFor(n + 1) > _scheduler.Blocks.NumBlocks)
            throw new ArgumentException($"The prompt of {n} tokens does not fit the KV cache ({_scheduler.Blocks.NumBlocks * _scheduler.Blocks.BlockSize} tokens).", "prompt");
        r.Sampling.Validate(vocab);
    }

    private async IAsyncEnumerable<GenerationOutput> Read(RequestState state, [EnumeratorCancellation] CancellationToken ct)
    {
        bool finished = false;
        using var reg = ct.Register(() => Abort(state));
        try
        {
            await foreach (var output in state.Output.Reader.ReadAllAsync(ct).ConfigureAwait(false))
            {
                if (output.Finish is not null) finished = true;
                yield return output;
            }
        }
        finally
        {
            if (!finished) Abort(state);
        }
    }

    private void Abort(RequestState state)
    {
        if (state.Aborted) return;
        state.Aborted = true;
        _aborts.Enqueue(state);
        _wake.Release();
    }

    private void Run()
    {
        try
        {
            WarmUp();
            _ready = true;
            while (!_stopping)
            {
                TakeIncoming();
                if (_active.Count == 0)
                {
                    Complete();   // every request of the in-flight step was aborted
                    PublishLoad();
                    _wake.Wait(TimeSpan.FromMilliseconds(200));
                    continue;
                }
                Step();
                PublishLoad();
            }
        }
        catch (Exception e)
        {
            _log($"engine thread failed: {e}");
            _failure = e;
            _ready = false;
            foreach (var s in _active.Values) s.Output.Writer.TryComplete(e);
            while (_incoming.TryDequeue(out var s)) s.Output.Writer.TryComplete(e);
        }
    }

    /// <summary>One forward pass of a one-token request, so the first client does not pay for lazy initialisation.</summary>
    private void WarmUp()
    {
        using (NewDisposeScope())
        {
            var blocks = new List<int>();
            if (!_scheduler.Blocks.TryAllocate(1, blocks)) return;
            using var batch = ForwardBatchBuilder.Build([new SequenceChunk([Config.BosTokenId ?? 0], 0, blocks)], _cache.BlockSize, _model.Device);
            _model.Forward(batch, _cache).cpu();
            _scheduler.Blocks.Free(blocks);
        }
        // Outside any dispose scope: the graphs' static inputs and outputs live as long as the engine.
        if (_kernels is not null && !_options.EnforceEager)
        {
            var sizes = new[] { 1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256 }.Where(s => s <= _options.Scheduler.MaxNumSeqs).ToArray();
            var started = DateTime.UtcNow;
            _graphs = new DecodeGraphRunner(_kernels, _model, _cache, sizes, MaxModelLen, _scratchBlock);
            _log($"captured CUDA graphs for decode batch sizes {string.Join(",", sizes)} in {(DateTime.UtcNow - started).TotalSeconds:F1} s");
        }
    }

    private void TakeIncoming()
    {
        while (_aborts.TryDequeue(out var a))
        {
            if (_active.Remove(a.Sequence.Id))
                Finish(a, FinishReason.Abort);
        }
        while (_incoming.TryDequeue(out var s))
        {
            if (s.Aborted) { Finish(s, FinishReason.Abort, remove: false); continue; }
            _active[s.Sequence.Id] = s;
            _scheduler.Add(s.Sequence);
        }
    }

    /// <summary>
    /// One engine step. With async scheduling the step is launched before the previous step's sampled tokens reach
    /// the host: the device feeds them to this step directly, and the host reads them back (detokenizes, streams,
    /// checks stops) while this step runs, so the device never waits for the host between decode steps. A sequence
    /// that stops on a token read back late has computed one extra row, which is dropped.
    /// </summary>
    private void Step()
    {
        if (_inFlight is { NeedsHostTokens: true }) Complete();   // penalties count the tokens on the host
        var plan = _scheduler.Schedule();
        Stats.Preemptions += plan.Preempted.Count;
        Interlocked.Exchange(ref Stats.PrefixCacheQueries, _scheduler.PrefixCacheQueries);
        Interlocked.Exchange(ref Stats.PrefixCacheHits, _scheduler.PrefixCacheHits);
        if (plan.Sequences.Count == 0)
        {
            Complete();
            return;
        }
        if (!CanLaunchBeforeReadback(plan))
        {
            Complete();
            // Sequences that stopped on the tokens just read back have given their blocks up: drop their rows.
            plan = plan with { Sequences = plan.Sequences.Where(s => s.Sequence.Status == SequenceStatus.Running).ToList() };
            if (plan.Sequences.Count == 0) return;
        }
        if (_inFlight is not null) Interlocked.Increment(ref Stats.StepsLaunchedBeforeReadback);
        var launched = Launch(plan);
        Complete();                       // the previous step's tokens, while this one runs
        foreach (var s in plan.Sequences)
            if (s.Sequence.Status == SequenceStatus.Running)
                _scheduler.OnComputed(s.Sequence);   // hashes full blocks: their tokens are all on the host now
        _inFlight = launched;
        if (!_asyncScheduling) Complete();
    }

    /// <summary>
    /// Whether the step needs none of the in-flight step's tokens on the host: every row that feeds one is a one-token
    /// row (the device copies the id in). Always so, since a sequence waits for its token before it is recomputed;
    /// checked rather than assumed.
    /// </summary>
    private bool CanLaunchBeforeReadback(ScheduledBatch plan) =>
        _inFlight is null || plan.Sequences.All(s => s.Sequence.Tokens[^1] != InFlightStep.Placeholder ||
                                                     (s.NumTokens == 1 && s.Sequence.NumComputed == s.Sequence.Tokens.Count - 1));

    /// <summary>Queues the step's forward pass and sampling on the device, and the copy of the samples to the host.</summary>
    /// <returns>The step's samples on their way to the host, or null when no row samples.</returns>
    private InFlightStep? Launch(ScheduledBatch plan)
    {
        _profiler?.Start();
        using var scope = NewDisposeScope();
        var chunks = new List<SequenceChunk>(plan.Sequences.Count);
        var feedRows = new List<int>();
        var feedSources = new List<int>();
        int tokenRow = 0;
        foreach (var s in plan.Sequences)
        {
            var seq = s.Sequence;
            var state = _active[seq.Id];
            state.Times.Scheduled();
            bool promptLogprobs = seq.Request.PromptLogprobs is not null && !state.PromptLogprobsSent && seq.NumComputed < seq.PromptLength;
            var chunk = new SequenceChunk(seq.Tokens.GetRange(seq.NumComputed, s.NumTokens), seq.NumComputed, seq.BlockTable, promptLogprobs);
            if (chunk.Tokens[^1] == InFlightStep.Placeholder)
            {
                feedRows.Add(tokenRow + s.NumTokens - 1);
                feedSources.Add(_inFlight!.RowOf(state));
            }
            chunks.Add(chunk);
            tokenRow += s.NumTokens;
        }
        var feed = feedRows.Count == 0 ? null : new PendingTokenFeed([.. feedRows], [.. feedSources], _inFlight!.Samples.TokenIds);
        _profiler?.Lap(chunks.All(c => c.Tokens.Count == 1) ? "decode" : "mixed", "host-before");
        bool bracket = _kernels is not null && _stepIndex++ == _profiledStep;
        if (bracket) _kernels!.ProfilerRange(start: true);
        var logits = _graphs?.TryRun(chunks, feed);                                    // [rows, V] float32
        if (logits is not null) _profiler?.FromGraph();
        else
        {
            using var batch = ForwardBatchBuilder.Build(chunks, _cache.BlockSize, _model.Device, kernelMetadata: _kernels is not null, slidingWindow: Config.SlidingWindow);
            feed?.Apply(batch.TokenIds);
            _cpuThreads?.BeforeStep(batch.NumTokens);
            logits = _model.Forward(batch, _cache);
        }
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
        int stepTokens = chunks.Sum(c => c.Tokens.Count);
        Stats.StepTokens(stepTokens);
        EngineObserverCalls.Step(Observer, new StepMetrics(stepTokens, plan.Sequences.Count, plan.Preempted.Count), _log);

        var sampleRows = new List<long>();
        var sampleStates = new List<RequestState>();
        int row = 0;
        for (int i = 0; i < plan.Sequences.Count; i++)
        {
            var s = plan.Sequences[i];
            var state = _active[s.Sequence.Id];
            int rows = chunks[i].AllLogits ? s.NumTokens : 1;
            if (chunks[i].AllLogits)
                state.PendingPromptLogprobs.AddRange(PromptLogprobs.Compute(logits.narrow(0, row, rows), s.Sequence, s.Sequence.NumComputed, state.Sequence.Request.PromptLogprobs!.Value));
            bool samplesNow = s.Samples; // read before NumComputed moves
            s.Sequence.NumComputed += s.NumTokens;
            if (samplesNow)
            {
                sampleRows.Add(row + rows - 1);
                sampleStates.Add(state);
            }
            row += rows;
        }
        if (sampleStates.Count == 0) return null;
        // A decode step samples every row in order: no gather (and no host→device copy of the row list) needed.
        bool identity = sampleRows.Count == logits.shape[0] && sampleRows.Select((r, i) => r == i).All(x => x);
        var rowsToSample = identity ? logits : logits.index_select(0, HostToDevice.Copy(sampleRows.ToArray(), logits.device));
        var inputs = sampleStates.Select(st => new SequenceSamplingInput(st.Sampling, st.Sequence.Request.PromptTokenIds,
            st.Sequence.Tokens.GetRange(st.Sequence.PromptLength, st.Sequence.OutputLength), st.Random)).ToList();
        _profiler?.Lap("sample-prep");
        var samples = _sampler.SampleOnDevice(rowsToSample, inputs);
        IntPtr readbackEvent = IntPtr.Zero;
        if (_readbackEvents is not null)   // otherwise Read copies synchronously
        {
            samples.BeginReadback();
            readbackEvent = _readbackEvents[_nextEvent];
            _nextEvent ^= 1;   // at most two steps are alive: the one in flight and this one
            _kernels!.EventRecord(readbackEvent);
        }
        var tokenIndex = new int[sampleStates.Count];
        for (int i = 0; i < sampleStates.Count; i++)
        {
            var seq = sampleStates[i].Sequence;
            tokenIndex[i] = seq.Tokens.Count;
            seq.Tokens.Add(InFlightStep.Placeholder);
            // A sequence whose token limit this token reaches computes nothing more (its row would be wasted).
            seq.Finishing = ReachesLimit(sampleStates[i], tokenIndex[i]);
        }
        _profiler?.Lap("sample");
        return new InFlightStep(sampleStates, tokenIndex, samples, _kernels, readbackEvent);
    }

    /// <summary>Reads the in-flight step's samples back, puts them in place of the placeholders and streams them out.</summary>
    private void Complete()
    {
        if (_inFlight is not { } step) return;
        _inFlight = null;
        using (step)
        {
            var samples = step.Read();
            for (int i = 0; i < samples.Length; i++)
            {
                var state = step.States[i];
                if (state.Done) continue;   // aborted, or stopped on an earlier token: this row was extra
                Append(state, samples[i], step.TokenIndex[i]);
            }
        }
        _profiler?.Lap("output");
    }

    /// <summary>Whether the token at <paramref name="index"/> of the sequence is its last by max_tokens or the model length.</summary>
    private bool ReachesLimit(RequestState state, int index) =>
        index + 1 - state.Sequence.PromptLength >= state.MaxTokens || index + 1 >= MaxModelLen;

    /// <summary>Records the sampled token at <paramref name="index"/> (where its placeholder is) and streams it out.</summary>
    private void Append(RequestState state, SampleOutput sample, int index)
    {
        var seq = state.Sequence;
        seq.Tokens[index] = sample.TokenId;
        state.Times.Token();
        var p = state.Sampling;
        FinishReason? finish = null;
        object? stopReason = null;
        bool isEos = Config.EosTokenIds.Contains(sample.TokenId) || sample.TokenId == Tokenizer.EosTokenId;
        bool stopToken = p.StopTokenIds.Contains(sample.TokenId);
        string text = "";
        if ((isEos && !p.IgnoreEos) || stopToken)
        {
            finish = FinishReason.Stop;
            stopReason = stopToken ? sample.TokenId : null;
        }
        else
        {
            text = state.Stops.Append(state.Detokenizer.Append(sample.TokenId));
            if (state.Stops.Matched is not null) { finish = FinishReason.Stop; stopReason = state.Stops.Matched; }
            else if (ReachesLimit(state, index)) finish = FinishReason.Length;
        }
        if (finish is not null && state.Stops.Matched is null)
            text += state.Stops.Append(state.Detokenizer.Flush()) + state.Stops.Flush();
        if (finish is not null && seq.Tokens.Count > index + 1)
            seq.Tokens.RemoveRange(index + 1, seq.Tokens.Count - index - 1);   // an extra placeholder sampled after the end
        var logprobs = sample.Logprob is float lp
            ? new[] { new OutputLogprob(sample.TokenId, lp, sample.Rank ?? 0, sample.TopLogprobs) }
            : null;
        var output = new GenerationOutput([sample.TokenId], text, logprobs, finish,
            finish is null ? null : new GenerationUsage(seq.PromptLength, seq.OutputLength, seq.CachedPromptTokens))
        {
            StopReason = stopReason,
            PromptLogprobs = TakePromptLogprobs(state),
        };
        state.Output.Writer.TryWrite(output);
        if (finish is not null)
        {
            _active.Remove(seq.Id);
            Finish(state, finish.Value, alreadyWritten: true);
        }
    }

    private static IReadOnlyList<OutputLogprob?>? TakePromptLogprobs(RequestState state)
    {
        if (state.PromptLogprobsSent || state.Sequence.Request.PromptLogprobs is null) return null;
        state.PromptLogprobsSent = true;
        return [null, .. state.PendingPromptLogprobs];
    }

    private void Finish(RequestState state, FinishReason reason, bool remove = true, bool alreadyWritten = false)
    {
        state.Done = true;
        if (remove && state.Sequence.Status != SequenceStatus.Finished) _scheduler.Remove(state.Sequence);
        if (!alreadyWritten && reason != FinishReason.Abort)
            state.Output.Writer.TryWrite(new GenerationOutput([], "", null, reason));
        // Observed before the stream completes, so a client that saw the end also sees the request in /metrics.
        EngineObserverCalls.Finished(Observer, state, reason, _log);
        state.Output.Writer.TryComplete();
        Stats.Finished(reason);
        state.Dispose();
        Interlocked.Decrement(ref _pendingCount);
    }

    /// <summary>Prompt tokens looked up in / served from the prefix cache so far.</summary>
    public (long Queries, long Hits) PrefixCacheCounters => (_scheduler.PrefixCacheQueries, _scheduler.PrefixCacheHits);

    private void PublishLoad() => _load = new EngineLoad(_scheduler.NumRunning, _scheduler.NumWaiting + _incoming.Count,
        _scheduler.Blocks.NumBlocks, _scheduler.Blocks.NumFree, _cache.BlockSize);

    public void Dispose()
    {
        _stopping = true;
        _wake.Release();
        if (_thread.IsAlive) _thread.Join(TimeSpan.FromSeconds(10));
        if (_profiler is not null) _log(_profiler.Summary());
        _inFlight?.Dispose();
        if (_readbackEvents is not null)
            foreach (var e in _readbackEvents) _kernels!.EventDelete(e);
        _graphs?.Dispose();
        _cache.Dispose();
        _sampler.Dispose();
    }
}
