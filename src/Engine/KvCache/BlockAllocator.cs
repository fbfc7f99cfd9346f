namespace InferenceServer.Engine.KvCache;

/// <summary>
/// Hands out KV-cache blocks from a fixed pool, with reference counts and prefix caching. A full block can be
/// registered under the hash of its prefix; when its last user lets go it stays cached but evictable, and is
/// reused either by a request with the same prefix (a hit) or, least recently used first, as a fresh block.
/// </summary>
public sealed class BlockAllocator
{
    private readonly int[] _refCounts;
    private readonly BlockHash?[] _hashOf;
    // Blocks with no user. Front: taken first (never-cached blocks, then the least recently used cached ones).
    private readonly LinkedList<int> _free = new();
    private readonly LinkedListNode<int>?[] _freeNodes;
    private readonly Dictionary<BlockHash, int> _cached = new();

    public int NumBlocks { get; }
    public int BlockSize { get; }
    public bool PrefixCaching { get; }

    /// <summary>Blocks that can be handed out now: unused ones, cached-but-idle ones included.</summary>
    public int NumFree => _free.Count;
    public int NumCached => _cached.Count;

    public BlockAllocator(int numBlocks, int blockSize, bool prefixCaching = true)
    {
        NumBlocks = numBlocks;
        BlockSize = blockSize;
        PrefixCaching = prefixCaching;
        _refCounts = new int[numBlocks];
        _hashOf = new BlockHash?[numBlocks];
        _freeNodes = new LinkedListNode<int>?[numBlocks];
        for (int b = 0; b < numBlocks; b++) _freeNodes[b] = _free.AddLast(b);
    }

    /// <summary>Blocks needed to hold <paramref name="tokens"/> tokens.</summary>
    public int BlocksFor(int tokens) => (tokens + BlockSize - 1) / BlockSize;

    public bool TryAllocate(int count, List<int> into)
    {
        if (count > _free.Count) return false;
        for (int i = 0; i < count; i++)
        {
            int b = _free.First!.Value;
            TakeFromFree(b);
            if (_hashOf[b] is { } h)
            {
                _cached.Remove(h); // evicted: its content is about to be overwritten
                _hashOf[b] = null;
            }
            _refCounts[b] = 1;
            into.Add(b);
        }
        return true;
    }

    /// <summary>The cached block holding this prefix, now shared with the caller (ref count +1), or -1.</summary>
    public int TryShareCached(BlockHash hash)
    {
        if (!PrefixCaching || !_cached.TryGetValue(hash, out int b)) return -1;
        if (_refCounts[b] == 0) TakeFromFree(b);
        _refCounts[b]++;
        return b;
    }

    /// <summary>Records that a block is full and holds the prefix with this hash. The first block registered for a
    /// hash stays the cached one.</summary>
    public void Register(int block, BlockHash hash)
    {
        if (!PrefixCaching || _hashOf[block] is not null || _cached.ContainsKey(hash)) return;
        _cached[hash] = block;
        _hashOf[block] = hash;
    }

    public void Free(IEnumerable<int> blocks)
    {
        foreach (var b in blocks)
        {
            if (_refCounts[b] <= 0) throw new InvalidOperationException($"block {b} freed twice");
            if (--_refCounts[b] > 0) continue;
            // Cached blocks go to the back (evicted last, most recently used); plain ones to the front.
            _freeNodes[b] = _hashOf[b] is null ? _free.AddFirst(b) : _free.AddLast(b);
        }
    }

    private void TakeFromFree(int b)
    {
        _free.Remove(_freeNodes[b]!);
        _freeNodes[b] = null;
    }
}
