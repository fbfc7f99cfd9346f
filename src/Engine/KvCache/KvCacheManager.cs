using System.Runtime.InteropServices;

namespace InferenceServer.Engine.KvCache;

/// <summary>
/// Each request's KV blocks over the <see cref="BlockAllocator"/> (vLLM v1's KVCacheManager): prefix hashing, lookup
/// of cached blocks, slot allocation, caching of full blocks and freeing. The scheduler decides who runs; this class
/// decides which blocks they use.
/// </summary>
public sealed class KvCacheManager(BlockAllocator allocator)
{
    private sealed class RequestBlocks
    {
        public List<int> Table { get; } = [];
        /// <summary>Prefix hashes of the request's full blocks (index = block number), computed as blocks fill.</summary>
        public List<BlockHash> Hashes { get; } = [];
        public int Registered;
        /// <summary>Blocks of <see cref="Table"/> already reported through <see cref="TakeNewBlocks"/>.</summary>
        public int Reported;
    }

    private readonly Dictionary<string, RequestBlocks> _requests = new();
    private int _reserved;

    public int BlockSize => allocator.BlockSize;
    public int NumBlocks => allocator.NumBlocks;
    public int NumFree => allocator.NumFree;

    /// <summary>Blocks requests may use: the pool less the reserved scratch block.</summary>
    public int Capacity => allocator.NumBlocks - _reserved;

    /// <summary>Blocks needed to hold <paramref name="tokens"/> tokens.</summary>
    public int BlocksFor(int tokens) => allocator.BlocksFor(tokens);

    /// <summary>A block no request owns, for rows that must write somewhere harmless (CUDA-graph padding).</summary>
    public int ReserveScratchBlock()
    {
        var one = new List<int>(1);
        if (!allocator.TryAllocate(1, one)) throw new InvalidOperationException("the KV pool has no block to spare for padding rows");
        _reserved++;
        return one[0];
    }

    /// <summary>
    /// Shares the cached blocks of the longest cached prefix of <paramref name="tokens"/> with the request, keeping at
    /// least one token to compute (the step must produce logits). Returns the number of tokens covered.
    /// </summary>
    public int ShareCachedPrefix(string id, IReadOnlyList<int> tokens)
    {
        if (!allocator.PrefixCaching) return 0;
        var r = Get(id);
        if (r.Table.Count > 0) return 0;
        int maxBlocks = (tokens.Count - 1) / BlockSize;
        EnsureHashes(r, tokens, maxBlocks);
        for (int b = 0; b < maxBlocks; b++)
        {
            int block = allocator.TryShareCached(r.Hashes[b]);
            if (block < 0) break;
            r.Table.Add(block);
        }
        r.Registered = r.Table.Count;
        return r.Table.Count * BlockSize;
    }

    /// <summary>Makes sure the request has blocks for <paramref name="tokens"/> tokens in all; false when the pool is short.</summary>
    public bool AllocateSlots(string id, int tokens)
    {
        var r = Get(id);
        int need = BlocksFor(tokens) - r.Table.Count;
        return need <= 0 || allocator.TryAllocate(need, r.Table);
    }

    /// <summary>The request's whole block table (read-only view; it grows in place).</summary>
    public IReadOnlyList<int> Blocks(string id) => Get(id).Table;

    /// <summary>Blocks added to the request's table since the last call: the diff the model runner applies.</summary>
    public IReadOnlyList<int> TakeNewBlocks(string id)
    {
        var r = Get(id);
        if (r.Reported == r.Table.Count) return [];
        var added = r.Table.GetRange(r.Reported, r.Table.Count - r.Reported);
        r.Reported = r.Table.Count;
        return added;
    }

    /// <summary>Registers the blocks that the first <paramref name="computed"/> tokens fill, so later requests can share them.</summary>
    /// <param name="tokens">The request's tokens; the first <paramref name="computed"/> must all be real ids.</param>
    public void CacheFullBlocks(string id, List<int> tokens, int computed)
    {
        if (!allocator.PrefixCaching || !_requests.TryGetValue(id, out var r)) return;
        int full = computed / BlockSize;
        EnsureHashes(r, tokens, full);
        for (int b = r.Registered; b < full; b++)
            allocator.Register(r.Table[b], r.Hashes[b]);
        r.Registered = Math.Max(r.Registered, full);
    }

    /// <summary>Frees every block of the request; its cached blocks stay shareable until evicted.</summary>
    public void Free(string id)
    {
        if (!_requests.Remove(id, out var r)) return;
        allocator.Free(r.Table);
    }

    private RequestBlocks Get(string id)
    {
        ref var r = ref CollectionsMarshal.GetValueRefOrAddDefault(_requests, id, out _);
        return r ??= new RequestBlocks();
    }

    private void EnsureHashes(RequestBlocks r, IReadOnlyList<int> tokens, int count)
    {
        var span = tokens is List<int> list ? CollectionsMarshal.AsSpan(list) : tokens.ToArray();
        for (int b = r.Hashes.Count; b < count; b++)
            r.Hashes.Add(BlockHash.Of(b == 0 ? null : r.Hashes[b - 1], span.Slice(b * BlockSize, BlockSize)));
    }
}
