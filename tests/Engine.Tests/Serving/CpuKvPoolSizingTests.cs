using InferenceServer.Engine.Scheduling;
using InferenceServer.Engine.Serving;

namespace InferenceServer.Engine.Tests.Serving;

/// <summary>On CPU the pool holds what the running sequences can use, capped by --kv-cache-space, not the whole space.</summary>
public sealed class CpuKvPoolSizingTests
{
    [Fact]
    public void ThePoolHoldsMaxNumSeqsSequencesOfMaxModelLenPlusTheScratchBlock()
    {
        using var engine = EngineTestHost.Start(new EngineOptions
        {
            MaxModelLen = 100, // 7 blocks of 16
            Scheduler = new SchedulerOptions { MaxNumSeqs = 3, MaxNumBatchedTokens = 128 },
        });
        Assert.Equal(3 * 7 + 1, engine.GetLoad().KvBlocksTotal);
    }

    [Fact]
    public void TheMemoryOptionStillCapsThePool()
    {
        // tiny-llama: 6 layers × (K, V) × 2 KV heads × 64 dims × 16 tokens × 4 bytes = 96 KiB per block.
        using var engine = EngineTestHost.Start(new EngineOptions
        {
            MaxModelLen = 2048,
            CpuKvCacheSpaceGiB = 1.0 / 1024, // 1 MiB: 10 blocks, far fewer than 64 × 128 + 1
        });
        Assert.Equal(10, engine.GetLoad().KvBlocksTotal);
    }
}
