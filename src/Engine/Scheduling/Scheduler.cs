using InferenceServer.Engine.KvCache;

namespace InferenceServer.Engine.Scheduling;

/// <summary>
/// Continuous batching: each step first serves running sequences (decodes and unfinished prefill chunks), oldest
/// first, then admits waiting ones while the token, sequence and block budgets allow. Prefills are chunked to fit
/// the token budget. When blocks run out, the newest running sequence is preempted: its blocks are freed and it
/// goes back to the front of the queue, to be recomputed later. With prefix caching, an admitted sequence first
/// shares every cached full block of its prefix and only computes the rest.
/// </summary>
public sealed class Scheduler(SchedulerOptions options, BlockAllocator blocks)
{
    private readonly LinkedList<Sequence> _waiting = new();
    private readonly List<Sequence> _running = [];

    public int NumWaiting => _waiting.Count;
    public int NumRunning => _running.Count;
    public long TotalPreemptions { get; private set; }

    /// <summary>Prompt tokens looked up in the prefix cache, and those found (vLLM counts tokens, not blocks).</summary>
    public long PrefixCacheQueries { get; private set; }
    public long PrefixCacheHits { get; private set; }
    public BlockAllocator Blocks => blocks;

    public void Add(Sequence seq)
    {
        seq.Status = SequenceStatus.Waiting;
        _waiting.AddLast(seq);
    }

    public ScheduledBatch Schedule()
    {
        var scheduled = new List<ScheduledSequence>();
        var preempted = new List<Sequence>();
        int budget = options.MaxNumBatchedTokens;

        // Running sequences, oldest first; preempt from the newest end when blocks run out.
        _running.Sort((a, b) => a.ArrivalOrder.CompareTo(b.ArrivalOrder));
        for (int i = 0; i < _running.Count && budget > 0; i++)
        {
            var seq = _running[i];
            if (seq.Finishing) continue;
            int n = Math.Min(seq.NumUncomputed, budget);
            while (!Reserve(seq, n))
            {
                var victim = _running[^1];
                Preempt(victim);
                preempted.Add(victim);
                if (victim == seq) break;
            }
            if (seq.Status != SequenceStatus.Running) break; // it preempted itself
            scheduled.Add(new ScheduledSequence(seq, n));
            budget -= n;
        }

        // Waiting sequences, in order, while nothing was preempted this step (memory is tight otherwise).
        while (preempted.Count == 0 && budget > 0 && _waiting.First is { } node && _running.Count < options.MaxNumSeqs)
        {
            var seq = node.Value;
            int cached = MatchCachedPrefix(seq);
            int n = Math.Min(seq.NumUncomputed, budget);
            if (!Reserve(seq, n))
            {
                ReleaseBlocks(seq);
                break;
            }
            if (seq.Preemptions == 0 && seq.OutputLength == 0)
            {
                seq.CachedPromptTokens = cached;
                PrefixCacheQueries += seq.PromptLength;
                PrefixCacheHits += cached;
            }
            _waiting.RemoveFirst();
            seq.Status = SequenceStatus.Running;
            _running.Add(seq);
            scheduled.Add(new ScheduledSequence(seq, n));
            budget -= n;
        }
        return new ScheduledBatch(scheduled, preempted);
    }

    /// <summary>Makes sure the sequence has blocks for n more tokens.</summary>
    private bool Reserve(Sequence seq, int n)
    {
        int need = blocks.BlocksFor(seq.NumComputed + n) - seq.BlockTable.Count;
        return need <= 0 || blocks.TryAllocate(need, seq.BlockTable);
    }

    /// <summary>
    /// Shares the cached blocks of the sequence's longest cached prefix, keeping at least one token to compute
    /// (the step must produce logits). Returns the number of tokens covered.
    /// </summary>
    private int MatchCachedPrefix(Sequence seq)
    {
        // Prompt logprobs need logits for every prompt token, so such requests compute the whole prompt (as in vLLM).
        if (!blocks.PrefixCaching || seq.BlockTable.Count > 0 || seq.Request.PromptLogprobs is not null) return 0;
        int maxBlocks = (seq.Tokens.Count - 1) / blocks.BlockSize;
        EnsureHashes(seq, maxBlocks);
        for (int b = 0; b < maxBlocks; b++)
        {
            int block = blocks.TryShareCached(seq.BlockHashes[b]);
            if (block < 0) break;
            seq.BlockTable.Add(block);
        }
        seq.NumComputed = seq.RegisteredBlocks = seq.BlockTable.Count;
        seq.NumComputed *= blocks.BlockSize;
        return seq.NumComputed;
    }

    /// <summary>After a step: registers the blocks that became full, so later requests can share them.</summary>
    public void OnComputed(Sequence seq)
    {
        if (!blocks.PrefixCaching) return;
        int full = seq.NumComputed / blocks.BlockSize;
        EnsureHashes(seq, full);
        for (int b = seq.RegisteredBlocks; b < full; b++)
            blocks.Register(seq.BlockTable[b], seq.BlockHashes[b]);
        seq.RegisteredBlocks = Math.Max(seq.RegisteredBlocks, full);
    }

    private void EnsureHashes(Sequence seq, int count)
    {
        var tokens = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(seq.Tokens);
        int bs = blocks.BlockSize;
        for (int b = seq.BlockHashes.Count; b < count; b++)
            seq.BlockHashes.Add(BlockHash.Of(b == 0 ? null : seq.BlockHashes[b - 1], tokens.Slice(b * bs, bs)));
    }

    private void ReleaseBlocks(Sequence seq)
    {
        blocks.Free(seq.BlockTable);
        seq.BlockTable.Clear();
        seq.NumComputed = 0;
        seq.RegisteredBlocks = 0;
    }

    private void Preempt(Sequence seq)
    {
        _running.Remove(seq);
        ReleaseBlocks(seq);
        seq.Preemptions++;
        TotalPreemptions++;
        seq.Status = SequenceStatus.Waiting;
        _waiting.AddFirst(seq);
    }

    /// <summary>Removes a sequence (finished or aborted) and frees its blocks at once.</summary>
    public void Remove(Sequence seq)
    {
        if (seq.Status == SequenceStatus.Running) _running.Remove(seq);
        else if (seq.Status == SequenceStatus.Waiting) _waiting.Remove(seq);
        ReleaseBlocks(seq);
        seq.Status = SequenceStatus.Finished;
    }
}
