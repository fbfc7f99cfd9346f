using InferenceServer.Engine.KvCache;
using InferenceServer.Engine.Loading;
using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Serving;

/// <summary>How many KV blocks fit the memory the options allow.</summary>
internal static class KvPoolSizing
{
    public static int Blocks(ModelConfig c, ScalarType dtype, Device device, EngineOptions o)
    {
        long perBlock = KvCachePool.BytesPerBlock(c.NumLayers, o.BlockSize, c.NumKvHeads, c.HeadDim, dtype);
        double bytes = device.type == DeviceType.CUDA
            ? CudaFreeBytesAfterReserve(o.GpuMemoryUtilization)
            : o.CpuKvCacheSpaceGiB * (1L << 30);
        return (int)Math.Max(1, Math.Min(int.MaxValue, bytes / perBlock));
    }

    /// <summary>Headroom kept for activations, logits and CUDA graph pools (vLLM measures a profiling run; this is
    /// a fixed reserve until the engine does too).</summary>
    private const double ActivationReserveBytes = 2.0 * (1L << 30);

    // With the weights loaded: the pool may take what is free, minus the share of the device the user keeps back
    // (1 - utilization) and the activation reserve.
    private static double CudaFreeBytesAfterReserve(double utilization)
    {
        var kernels = Kernels.NativeKernels.TryGet(out var why)
            ?? throw new NotSupportedException($"sizing the KV pool on CUDA needs the native library ({why}); or pass --num-kv-blocks.");
        var (free, total) = kernels.MemGetInfo();
        return free - total * (1 - utilization) - ActivationReserveBytes;
    }
}
