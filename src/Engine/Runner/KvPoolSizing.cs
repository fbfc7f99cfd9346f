using InferenceServer.Engine.KvCache;
using InferenceServer.Engine.Models;
using InferenceServer.Engine.Batching;
using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Runner;

/// <summary>What the KV pool may take: on CPU what the running sequences can use, capped by a size; a share of GPU memory on CUDA.</summary>
/// <param name="CpuKvCacheSpaceGiB">--kv-cache-space, the most the CPU pool may take.</param>
/// <param name="GpuMemoryUtilization">--gpu-memory-utilization: the fraction of GPU memory the engine may use, pool included.</param>
/// <param name="MaxStepTokens">Tokens of the largest step the scheduler can form (the profiling pass runs one).</param>
/// <param name="MaxModelLen">Longest sequence of that step.</param>
/// <param name="MaxNumSeqs">--max-num-seqs: sequences that can hold KV blocks at once.</param>
public sealed record KvPoolSettings(int BlockSize, double CpuKvCacheSpaceGiB, double GpuMemoryUtilization, int MaxStepTokens, int MaxModelLen, int MaxNumSeqs);

/// <summary>How many KV blocks fit the memory the options allow.</summary>
internal static class KvPoolSizing
{
    /// <summary>
    /// CPU: blocks for --max-num-seqs sequences of --max-model-len tokens (no more can be in use at once), plus the
    /// scratch block, capped by --kv-cache-space: a small model does not reserve the whole space. CUDA (vLLM's profiling run): one forward pass at the largest step the scheduler can form
    /// measures the activation peak; the pool then takes total × --gpu-memory-utilization, less what is in use (weights,
    /// CUDA context, cuBLAS workspaces), that peak, and a margin for the decode graphs' memory pools.
    /// </summary>
    public static int Blocks(ICausalLM model, KvPoolSettings o, Action<string> log)
    {
        var c = model.Config;
        long perBlock = KvCachePool.BytesPerBlock(c.NumLayers, o.BlockSize, model.KvHeads, c.HeadDim, model.Dtype);
        double bytes = model.Device.type == DeviceType.CUDA
            ? CudaKvBytes(model, o, log)
            : Math.Min(o.CpuKvCacheSpaceGiB * (1L << 30), perBlock * CpuBlocksInUseAtMost(o));
        return (int)Math.Max(1, Math.Min(int.MaxValue, bytes / perBlock));
    }

    /// <summary>Every running sequence at --max-model-len, plus the scratch block (KvCacheManager.ReserveScratchBlock).</summary>
    private static double CpuBlocksInUseAtMost(KvPoolSettings o) =>
        (double)o.MaxNumSeqs * ((o.MaxModelLen + o.BlockSize - 1) / o.BlockSize) + 1;

    /// <summary>Graph pools (decode batches ≤ max_num_seqs rows, far below a prefill step's activations) and fragmentation.</summary>
    private const double GraphPoolMarginBytes = 0.5 * (1L << 30);

    private static double CudaKvBytes(ICausalLM model, KvPoolSettings o, Action<string> log)
    {
        var kernels = model.Kernels ?? Kernels.NativeKernels.TryGet(out var why)
            ?? throw new NotSupportedException($"sizing the KV pool on CUDA needs the native library ({why}); or pass --num-kv-blocks.");
        long activations = ProfileActivationPeak(model, kernels, o);
        kernels.EmptyCache();
        var (free, total) = kernels.MemGetInfo();
        double kv = total * o.GpuMemoryUtilization - (total - free) - activations - GraphPoolMarginBytes;
        log($"memory profile: {(total - free) / (double)(1L << 30):F2} GiB in use after loading, {activations / (double)(1L << 30):F2} GiB " +
            $"activation peak at {o.MaxStepTokens} tokens; KV cache may take {Math.Max(0, kv) / (1L << 30):F2} GiB of {total / (double)(1L << 30):F1} GiB " +
            $"at --gpu-memory-utilization {o.GpuMemoryUtilization}");
        return kv;
    }

    /// <summary>
    /// Peak bytes allocated above the loaded model during one forward pass of the largest step: max_num_batched_tokens
    /// prompt tokens in sequences of at most max_model_len, on a throwaway pool just big enough for them.
    /// </summary>
    private static long ProfileActivationPeak(ICausalLM model, Kernels.NativeKernels kernels, KvPoolSettings o)
    {
        var c = model.Config;
        int remaining = o.MaxStepTokens, nextBlock = 0;
        var chunks = new List<SequenceChunk>();
        while (remaining > 0)
        {
            int n = Math.Min(remaining, o.MaxModelLen);
            int blocks = (n + o.BlockSize - 1) / o.BlockSize;
            chunks.Add(new SequenceChunk(new int[n], 0, Enumerable.Range(nextBlock, blocks).ToArray()));
            nextBlock += blocks;
            remaining -= n;
        }
        using var scratch = new KvCachePool(c.NumLayers, nextBlock, o.BlockSize, model.KvHeads, c.HeadDim, model.Dtype, model.Device);
        var (before, _) = kernels.MemoryAllocated(resetPeak: true);
        using (var batch = ForwardBatchBuilder.Build(chunks, o.BlockSize, model.Device))
        using (model.Forward(batch, scratch))
            cuda.synchronize();
        return Math.Max(0, kernels.MemoryAllocated().Peak - before);
    }
}
