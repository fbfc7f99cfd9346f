namespace InferenceServer.Engine.KvCache;

/// <summary>
/// Hands out KV-cache blocks from a fixed pool: a free list plus reference counts, so blocks can be shared
/// (prefix caching) and return to the pool only when their last user lets go.
/// </summary>
public sealed class BlockAllocator
{
    private readonly int[] _refCounts;
    private readonly Stack<int> _free;

    public int NumBlocks { get; }
    public int BlockSize { get; }
    public int NumFree => _free.Count;

    public BlockAllocator(int numBlocks, int blockSize)
    {
        NumBlocks = numBlocks;
        BlockSize = blockSize;
        _refCounts = new int[numBlocks];
        // Pushed in reverse so block 0 is handed out first (easier to read in tests and logs).
        _free = new Stack<int>(Enumerable.Range(0, numBlocks).Reverse());
    }

    /// <summary>Blocks needed to hold <paramref name="tokens"/> tokens.</summary>
    public int BlocksFor(int tokens) => (tokens + BlockSize - 1) / BlockSize;

    public bool TryAllocate(int count, List<int> into)
    {
        if (count > _free.Count) return false;
        for (int i = 0; i < count; i++)
        {
            int b = _free.Pop();
            _refCounts[b] = 1;
            into.Add(b);
        }
        return true;
    }

    public void AddRef(int block) => _refCounts[block]++;

    public void Free(IEnumerable<int> blocks)
    {
        foreach (var b in blocks)
        {
            if (_refCounts[b] <= 0) throw new InvalidOperationException($"block {b} freed twice");
            if (--_refCounts[b] == 0) _free.Push(b);
        }
    }
}
