using InferenceServer.Engine.KvCache;

namespace InferenceServer.Engine.Tests.KvCache;

public sealed class BlockAllocatorTests
{
    private static BlockHash H(int i) => BlockHash.Of(null, [i, i + 1]);

    [Fact]
    public void AllocationAndFreeKeepCountsExact()
    {
        var a = new BlockAllocator(4, 16);
        var got = new List<int>();
        Assert.True(a.TryAllocate(3, got));
        Assert.Equal(1, a.NumFree);
        Assert.False(a.TryAllocate(2, got));
        Assert.Equal(3, got.Count);
        a.Free(got);
        Assert.Equal(4, a.NumFree);
        Assert.Throws<InvalidOperationException>(() => a.Free([got[0]]));
    }

    [Fact]
    public void CachedBlockIsSharedAndSurvivesItsOwner()
    {
        var a = new BlockAllocator(4, 16);
        var owner = new List<int>();
        a.TryAllocate(1, owner);
        a.Register(owner[0], H(1));
        Assert.Equal(owner[0], a.TryShareCached(H(1)));   // shared while in use: ref 2
        a.Free(owner);
        Assert.Equal(3, a.NumFree);                        // still used by the sharer
        a.Free(owner);
        Assert.Equal(4, a.NumFree);                        // idle but cached
        Assert.Equal(owner[0], a.TryShareCached(H(1)));   // a later request hits it
        Assert.Equal(-1, a.TryShareCached(H(2)));
    }

    [Fact]
    public void PlainFreeBlocksAreUsedBeforeCachedOnesAndEvictionIsLeastRecentlyUsed()
    {
        var a = new BlockAllocator(3, 16);
        var x = new List<int>();
        var y = new List<int>();
        a.TryAllocate(1, x);
        a.TryAllocate(1, y);
        a.Register(x[0], H(1));
        a.Register(y[0], H(2));
        a.Free(x);   // x idle first: least recently used
        a.Free(y);
        var fresh = new List<int>();
        a.TryAllocate(1, fresh);
        Assert.DoesNotContain(fresh[0], new[] { x[0], y[0] });   // the never-cached block goes first
        a.TryAllocate(1, fresh);
        Assert.Equal(x[0], fresh[1]);                            // then the LRU cached one, evicting H(1)
        Assert.Equal(-1, a.TryShareCached(H(1)));
        Assert.Equal(y[0], a.TryShareCached(H(2)));
    }

    [Fact]
    public void HashCoversTheWholePrefix()
    {
        var first = BlockHash.Of(null, [1, 2]);
        var other = BlockHash.Of(null, [9, 9]);
        Assert.NotEqual(BlockHash.Of(first, [3, 4]), BlockHash.Of(other, [3, 4]));
        Assert.Equal(BlockHash.Of(first, [3, 4]), BlockHash.Of(BlockHash.Of(null, [1, 2]), [3, 4]));
    }
}
