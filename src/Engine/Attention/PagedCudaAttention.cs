using InferenceServer.Engine.Kernels;
using InferenceServer.Engine.KvCache;
using InferenceServer.Engine.Runner;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Attention;

/// <summary>
/// CUDA attention: decode steps (one token per sequence) run the native paged kernel, one launch per layer for
/// the whole batch, reading each sequence's block table; prefill chunks use SDPA per sequence (flash attention in
/// ATen) through <see cref="GatherAttention"/>.
/// </summary>
public sealed class PagedCudaAttention(NativeKernels kernels, int numHeads, int numKvHeads, int headDim, int? slidingWindow) : IAttentionBackend
{
    private readonly GatherAttention _prefill = new(numHeads, numKvHeads, headDim, slidingWindow);
    private readonly double _scale = 1.0 / Math.Sqrt(headDim);

    public Tensor Forward(int layer, Tensor q, Tensor k, Tensor v, ForwardBatch batch, KvCachePool cache)
    {
        cache.Keys(layer).index_copy_(0, batch.SlotMapping, k);
        cache.Values(layer).index_copy_(0, batch.SlotMapping, v);
        return AttendWritten(layer, q, k, v, batch, cache);
    }

    public Tensor AttendWritten(int layer, Tensor q, Tensor k, Tensor v, ForwardBatch batch, KvCachePool cache)
    {
        if (batch.Decode is not { } d)
            return _prefill.AttendWritten(layer, q, k, v, batch, cache);
        var output = empty_like(q);                                   // [B, H, D]
        kernels.PagedDecodeAttention(output, q, cache.Keys(layer), cache.Values(layer), d.BlockTables, d.ContextLengths, _scale, cache.BlockSize, slidingWindow ?? 0);
        return output.view(q.shape[0], numHeads * headDim);
    }
}
