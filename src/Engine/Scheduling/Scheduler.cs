using InferenceServer.Engine.KvCache;

namespace InferenceServer.Engine.Scheduling;

/// <summary>
/// Continuous batching: each step first serves running sequences (decodes and unfinished prefill chunks), oldest
/// first, then admits waiting ones while the token, sequence and block budgets allow. Prefills are chunked to fit
/// the token budget. When blocks run out, the newest running sequence is preempted: its blocks are freed and it
/// goes back to the front of the queue, to be recomputed later.
/// </summary>
public sealed class Scheduler(SchedulerOptions options, BlockAllocator blocks)
{
    private readonly LinkedList<Sequence> _waiting = new();
    private readonly List<Sequence> _running = [];

    public int NumWaiting => _waiting.Count;
    public int NumRunning => _running.Count;
    public long TotalPreemptions { get; private set; }
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
            int n = Math.Min(seq.NumUncomputed, budget);
            if (!Reserve(seq, n)) break;
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

    private void Preempt(Sequence seq)
    {
        _running.Remove(seq);
        blocks.Free(seq.BlockTable);
        seq.BlockTable.Clear();
        seq.NumComputed = 0;
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
        blocks.Free(seq.BlockTable);
        seq.BlockTable.Clear();
        seq.Status = SequenceStatus.Finished;
    }
}
