using InferenceServer.Engine.Kernels;
using InferenceServer.Engine.KvCache;
using InferenceServer.Engine.Runner;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Attention;

/// <summary>
/// CUDA attention: decode steps (one token per sequence) run the native paged kernel, one launch per layer for
/// the whole batch, reading each sequence's block table; prefill chunks use SDPA per sequence (flash attention in
/// ATen) through <see cref="GatherAttention"/>. In a step that mixes the two, the decodes still take the paged
/// kernel (one launch instead of a gather and an SDPA call per sequence per layer).
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
        if (batch.Decode is { } d)
            return Paged(layer, q, d, cache).view(q.shape[0], numHeads * headDim);
        if (batch.MixedDecode is not { } mixed)
            return _prefill.AttendWritten(layer, q, k, v, batch, cache);
        // A mixed step: the one-token rows in one paged launch, the prefill chunks per sequence.
        using var scope = NewDisposeScope();
        var result = empty([q.shape[0], numHeads * headDim], q.dtype, q.device);  // [T, H·D]
        var decoded = Paged(layer, q.index_select(0, mixed.Rows), mixed.Metadata, cache);
        result.index_copy_(0, mixed.Rows, decoded.view(decoded.shape[0], numHeads * headDim));
        _prefill.AttendInto(result, layer, q, k, v, batch, cache, mixed.SequenceIndices);
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>q [B, H, D] (heads contiguous) against each row's paged context → [B, H, D].</summary>
    private Tensor Paged(int layer, Tensor q, DecodeMetadata d, KvCachePool cache)
    {
        var output = empty_like(q);
        kernels.PagedDecodeAttention(output, q, cache.Keys(layer), cache.Values(layer), d.BlockTables, d.ContextLengths, _scale, cache.BlockSize, slidingWindow ?? 0);
        return output;
    }
}
