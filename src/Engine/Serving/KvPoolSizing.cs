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

    // TorchSharp exposes no cudaMemGetInfo; until the native library does, size from the total memory the
    // device reports minus what the caching allocator already holds.
    private static double CudaFreeBytesAfterReserve(double utilization)
    {
        throw new NotSupportedException("CUDA KV pool sizing needs --num-kv-blocks until the native library reports free memory.");
    }
}
