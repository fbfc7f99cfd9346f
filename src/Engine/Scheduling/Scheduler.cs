using InferenceServer.Engine.KvCache;

namespace InferenceServer.Engine.Scheduling;

/// <summary>
/// Continuous batching policy: each step first serves running requests (decodes and unfinished prefill chunks),
/// oldest first, then admits waiting ones while the token, sequence and block budgets allow. Prefills are chunked to
/// fit the token budget. When blocks run out, the newest running request is preempted: its blocks are freed and it
/// goes back to the front of the queue, to be recomputed later. Which blocks a request uses (prefix-cache hits
/// included) is the <see cref="KvCacheManager"/>'s business.
/// </summary>
public sealed class Scheduler(SchedulerOptions options, KvCacheManager kvCache)
{
    private readonly LinkedList<Request> _waiting = new();
    private readonly List<Request> _running = [];
    private readonly HashSet<string> _knownToRunner = [];
    private readonly List<string> _dropped = [];
    private readonly List<Request> _unservable = [];

    public int NumWaiting => _waiting.Count;
    public int NumRunning => _running.Count;
    public bool HasRequests => _waiting.Count > 0 || _running.Count > 0;
    public KvCacheManager KvCache => kvCache;

    /// <summary>Prompt tokens looked up in the prefix cache, and those found (vLLM counts tokens, not blocks).</summary>
    public long PrefixCacheQueries { get; private set; }
    public long PrefixCacheHits { get; private set; }

    public void Add(Request request)
    {
        request.Status = RequestStatus.Waiting;
        _waiting.AddLast(request);
    }

    public SchedulerOutput Schedule()
    {
        var scheduled = new List<(Request Request, int Tokens)>();
        int preempted = 0;
        int budget = options.MaxNumBatchedTokens;

        // Running requests, oldest first; preempt from the newest end when blocks run out.
        _running.Sort((a, b) => a.ArrivalOrder.CompareTo(b.ArrivalOrder));
        for (int i = 0; i < _running.Count && budget > 0; i++)
        {
            var r = _running[i];
            if (r.Finishing) continue;
            int n = Math.Min(r.NumUncomputed, budget);
            while (!kvCache.AllocateSlots(r.Id, r.NumComputed + n))
            {
                var victim = _running[^1];
                if (victim == r && _running.Count == 1) { GiveUp(r); break; }   // alone, and still too big for the pool
                Preempt(victim);
                preempted++;
                if (victim == r) break;
            }
            if (r.Status != RequestStatus.Running) break; // it preempted itself, or can never run
            scheduled.Add((r, n));
            budget -= n;
        }

        // Waiting requests, in order, while nothing was preempted this step (memory is tight otherwise).
        while (preempted == 0 && budget > 0 && _waiting.First is { } node && _running.Count < options.MaxNumSeqs)
        {
            var r = node.Value;
            // Prompt logprobs need logits for every prompt token, so such requests compute the whole prompt (as in vLLM).
            int cached = r.Source.PromptLogprobs is null ? kvCache.ShareCachedPrefix(r.Id, r.Tokens) : 0;
            r.NumComputed = cached;
            int n = Math.Min(r.NumUncomputed, budget);
            if (!kvCache.AllocateSlots(r.Id, r.NumComputed + n))
            {
                kvCache.Free(r.Id);
                r.NumComputed = 0;
                if (_running.Count > 0) break;   // it waits for running requests to free blocks
                GiveUp(r);                        // nothing else holds blocks: it would wait forever, blocking the queue
                continue;
            }
            if (r.Preemptions == 0 && r.OutputLength == 0)
            {
                r.CachedPromptTokens = cached;
                PrefixCacheQueries += r.PromptLength;
                PrefixCacheHits += cached;
            }
            _waiting.RemoveFirst();
            r.Status = RequestStatus.Running;
            _running.Add(r);
            scheduled.Add((r, n));
            budget -= n;
        }
        return Output(scheduled, preempted);
    }

    /// <summary>The step as the runner sees it; moves each request's computed count past the scheduled tokens.</summary>
    private SchedulerOutput Output(List<(Request Request, int Tokens)> scheduled, int preempted)
    {
        var order = new ScheduledRequest[scheduled.Count];
        var fresh = new List<NewRequestData>();
        var cached = new List<CachedRequestData>();
        for (int i = 0; i < scheduled.Count; i++)
        {
            var (r, n) = scheduled[i];
            order[i] = new ScheduledRequest(r.Id, n, r.NumComputed + n == r.Tokens.Count);
            var blocks = kvCache.TakeNewBlocks(r.Id);
            if (_knownToRunner.Add(r.Id))
                fresh.Add(new NewRequestData(r.Id, [.. r.Tokens], r.PromptLength, r.Sampling, r.Random, blocks, r.NumComputed,
                    r.PromptLogprobsSent ? null : r.Source.PromptLogprobs));
            else
                cached.Add(new CachedRequestData(r.Id, blocks, r.NumComputed));
            r.NumComputed += n;
        }
        var dropped = _dropped.ToArray();
        _dropped.Clear();
        return new SchedulerOutput(order, fresh, cached, dropped, preempted);
    }

    /// <summary>
    /// Requests taken out because they cannot run even alone: their tokens need more blocks than the whole pool
    /// (possible when the pool holds less than --max-model-len). The core ends them with finish reason length.
    /// </summary>
    public IReadOnlyList<Request> TakeUnservable()
    {
        if (_unservable.Count == 0) return [];
        var taken = _unservable.ToArray();
        _unservable.Clear();
        return taken;
    }

    private void GiveUp(Request r)
    {
        Finish(r);
        _unservable.Add(r);
    }

    /// <summary>After a step whose tokens are all on the host: caches the blocks they filled, for later requests to share.</summary>
    public void OnComputed(Request r)
    {
        if (r.Status == RequestStatus.Running) kvCache.CacheFullBlocks(r.Id, r.Tokens, r.NumComputed);
    }

    private void Preempt(Request r)
    {
        _running.Remove(r);
        Forget(r);
        r.NumComputed = 0;
        r.Preemptions++;
        r.Status = RequestStatus.Waiting;
        _waiting.AddFirst(r);
    }

    /// <summary>Removes a request (finished or aborted) and frees its blocks at once.</summary>
    public void Finish(Request r)
    {
        if (r.Status == RequestStatus.Running) _running.Remove(r);
        else if (r.Status == RequestStatus.Waiting) _waiting.Remove(r);
        Forget(r);
        r.Status = RequestStatus.Finished;
    }

    private void Forget(Request r)
    {
        kvCache.Free(r.Id);
        if (_knownToRunner.Remove(r.Id)) _dropped.Add(r.Id);
    }
}
