using System.Collections.Concurrent;
using InferenceServer.Engine.Executor;
using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Sampling;
using InferenceServer.Engine.Scheduling;

namespace InferenceServer.Engine.Core;

/// <summary>
/// The engine loop (vLLM v1's EngineCore). One thread owns the device; each step the scheduler produces a
/// <see cref="SchedulerOutput"/>, the executor runs it, and the core updates requests from the runner's output and
/// decides token-level stops. With async scheduling a step is launched before the previous step's samples reach the
/// host: the device feeds them to it, and the host reads them back while it runs. Detokenization and stop strings
/// happen on the request side, off this thread.
/// </summary>
public sealed partial class EngineCore(Scheduler scheduler, IExecutor executor, StopChecker stops, EngineCoreOptions options, EngineStats stats, Action<string> log) : IDisposable
{
    private readonly ConcurrentQueue<ActiveRequest> _incoming = new();
    private readonly ConcurrentQueue<AbortRequest> _aborts = new();
    private readonly Dictionary<string, ActiveRequest> _active = new();
    private readonly SemaphoreSlim _wake = new(0);
    private Thread? _thread;
    private InFlightStep? _inFlight;
    private volatile bool _stopping, _ready;
    private volatile Exception? _failure;
    private volatile EngineLoad _load = new(0, 0, scheduler.KvCache.NumBlocks, scheduler.KvCache.NumFree, scheduler.KvCache.BlockSize);
    private int _pending;

    public EngineStats Stats => stats;
    public IEngineObserver? Observer { get; set; }
    public bool IsReady => _ready;
    public Exception? Failure => _failure;
    public EngineLoad Load => _load;

    /// <summary>Starts the engine thread: <paramref name="startup"/> (warm-up, graph capture) runs there first.</summary>
    public void Start(Action startup)
    {
        _thread = new Thread(() => Run(startup)) { Name = "engine", IsBackground = true };
        _thread.Start();
    }

    /// <summary>Queues a request; false when the queue is full.</summary>
    public bool TryAdd(ActiveRequest request)
    {
        if (Interlocked.Increment(ref _pending) > options.MaxQueued)
        {
            Interlocked.Decrement(ref _pending);
            return false;
        }
        _incoming.Enqueue(request);
        _wake.Release();
        return true;
    }

    /// <summary>Ends a request at the next step; <paramref name="outputTokens"/> is what its client received, if known.</summary>
    public void Abort(ActiveRequest request, FinishReason reason, int? outputTokens = null)
    {
        request.Aborted = true;
        _aborts.Enqueue(new AbortRequest(request, reason, outputTokens));
        _wake.Release();
    }

    private void Run(Action startup)
    {
        try
        {
            startup();
            _ready = true;
            while (!_stopping)
            {
                TakeQueues();
                if (scheduler.HasRequests) Step();
                else { Complete(); PublishLoad(); _wake.Wait(TimeSpan.FromMilliseconds(200)); }   // none left, or all aborted
                PublishLoad();
            }
        }
        catch (Exception e)
        {
            log($"engine thread failed: {e}");
            _failure = e;
            _ready = false;
            foreach (var a in _active.Values) a.Output.Writer.TryComplete(e);
            while (_incoming.TryDequeue(out var a)) a.Output.Writer.TryComplete(e);
        }
    }

    private void TakeQueues()
    {
        while (_aborts.TryDequeue(out var x))
            if (_active.TryGetValue(x.Request.Request.Id, out var a) && a == x.Request) Finish(a, x.Reason, x.OutputTokens);
        while (_incoming.TryDequeue(out var a))
        {
            if (a.Aborted) { Finish(a, FinishReason.Abort, null); continue; }
            _active[a.Request.Id] = a;
            scheduler.Add(a.Request);
        }
    }

    private void Step()
    {
        if (_inFlight is { NeedsHostTokens: true }) Complete();   // penalties count the tokens on the host
        var step = scheduler.Schedule();
        Stats.Preemptions += step.NumPreempted;
        Interlocked.Exchange(ref Stats.PrefixCacheQueries, scheduler.PrefixCacheQueries);
        Interlocked.Exchange(ref Stats.PrefixCacheHits, scheduler.PrefixCacheHits);
        if (step.Scheduled.Count == 0)
        {
            if (_inFlight is null) _wake.Wait(TimeSpan.FromMilliseconds(10));   // nothing can run until a request arrives or ends
            Complete();
            EndUnservable();
            return;
        }
        foreach (var s in step.Scheduled) _active[s.Id].Request.Times.Scheduled();
        if (_inFlight is not null) Interlocked.Increment(ref Stats.StepsLaunchedBeforeReadback);
        if (!TryExecute(step, out var pending)) return;   // out of device memory: its requests were ended
        var launched = pending is null ? null : InFlightStep.Launched(pending, step, _active, stops);
        Stats.StepTokens(step.TotalTokens);
        Observer.Safely(o => o.OnStep(new StepMetrics(step.TotalTokens, step.Scheduled.Count, step.NumPreempted)), log);
        Complete();                       // the previous step's tokens, while this one runs
        foreach (var s in step.Scheduled)
            if (_active.TryGetValue(s.Id, out var a)) scheduler.OnComputed(a.Request);   // their tokens are all on the host now
        _inFlight = launched;
        if (!options.AsyncScheduling) Complete();
        EndUnservable();
    }

    /// <summary>Ends the requests the scheduler gave up on (too big for the whole pool) once their tokens are on the host.</summary>
    private void EndUnservable()
    {
        foreach (var r in scheduler.TakeUnservable())
        {
            if (!_active.TryGetValue(r.Id, out var a)) continue;   // it stopped on the token that just landed
            a.Output.Writer.TryWrite(new CoreOutput(null, null, FinishReason.Length, null, false, r.OutputLength, r.CachedPromptTokens, null));
            Finish(a, FinishReason.Length, null);
        }
    }

    /// <summary>Reads the in-flight step's samples back, puts them in place of the placeholders and sends them out.</summary>
    private void Complete()
    {
        if (_inFlight is not { } step) return;
        _inFlight = null;
        using (step)
        {
            if (!TryWait(step, out var output)) return;
            for (int i = 0; i < step.Requests.Length; i++)
            {
                if (output.RequestIds[i] != step.Requests[i].Id)
                    throw new InvalidOperationException($"sample {i} belongs to {output.RequestIds[i]}, expected {step.Requests[i].Id}");
                if (!step.Requests[i].Done)   // else aborted, or stopped on an earlier token: this row was extra
                    Update(_active[step.Requests[i].Id], output.Samples[i], step.TokenIndex[i], output.PromptLogprobs);
            }
        }
        options.Profiler?.Lap("output");
    }

    /// <summary>Records the sampled token at <paramref name="index"/> (where its placeholder is) and sends it out.</summary>
    private void Update(ActiveRequest a, SampleOutput sample, int index, IReadOnlyDictionary<string, IReadOnlyList<OutputLogprob?>>? promptLogprobs)
    {
        var r = a.Request;
        r.Tokens[index] = sample.TokenId;
        r.Times.Token();
        var (finish, stopReason, onToken) = stops.Check(r, sample.TokenId, index);
        if (finish is not null && r.Tokens.Count > index + 1)
            r.Tokens.RemoveRange(index + 1, r.Tokens.Count - index - 1);   // an extra placeholder sampled after the end
        IReadOnlyList<OutputLogprob?>? prompt = null;
        if (promptLogprobs?.TryGetValue(r.Id, out prompt) == true) r.PromptLogprobsSent = true;
        var logprob = sample.Logprob is float lp ? new OutputLogprob(sample.TokenId, lp, sample.Rank ?? 0, sample.TopLogprobs) : null;
        a.Output.Writer.TryWrite(new CoreOutput(sample.TokenId, logprob, finish, stopReason, onToken, index + 1 - r.PromptLength, r.CachedPromptTokens, prompt));
        if (finish is not null) Finish(a, finish.Value, null);
    }

    private void Finish(ActiveRequest a, FinishReason reason, int? outputTokens, Exception? error = null)
    {
        var r = a.Request;
        r.Done = true;
        if (r.Status != RequestStatus.Finished) scheduler.Finish(r);
        _active.Remove(r.Id);
        // Observed before the stream completes, so a client that saw the end also sees the request in /metrics.
        Observer.Safely(o => o.OnRequestFinished(r.Times.ToMetrics(r.Id, reason, r.PromptLength, outputTokens ?? r.OutputLength, r.CachedPromptTokens, r.Preemptions)), log);
        a.Output.Writer.TryComplete(error);
        Stats.Finished(reason);
        r.Dispose();
        Interlocked.Decrement(ref _pending);
    }

    private void PublishLoad() => _load = new EngineLoad(scheduler.NumRunning, scheduler.NumWaiting + _incoming.Count,
        scheduler.KvCache.NumBlocks, scheduler.KvCache.NumFree, scheduler.KvCache.BlockSize);

    public void Dispose()
    {
        _stopping = true;
        _wake.Release();
        if (_thread is { IsAlive: true }) _thread.Join(TimeSpan.FromSeconds(10));
        if (options.Profiler is not null) log(options.Profiler.Summary());
        _inFlight?.Dispose();
        executor.Dispose();
    }
}
