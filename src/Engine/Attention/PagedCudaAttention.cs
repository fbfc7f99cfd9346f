using InferenceServer.Engine.Batching;
using InferenceServer.Engine.Kernels;
using InferenceServer.Engine.KvCache;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Attention;

/// <summary>
/// CUDA attention. One-token rows (decode steps, and the decodes of a mixed step) run the native paged kernel, one
/// launch per layer for all of them, reading each sequence's block table. In float16/bfloat16 the multi-token rows
/// (prefill chunks) run as one varlen flash-attention call per layer; float32, which flash attention lacks, takes
/// SDPA per sequence through <see cref="GatherAttention"/>. Models get this backend only when head_dim is a multiple
/// of 8 up to <see cref="NativeKernels.MaxHeadDim"/> (ModelFactory), what both kernels take.
/// </summary>
public sealed class PagedCudaAttention(NativeKernels kernels, int numHeads, int numKvHeads, int headDim, int? slidingWindow) : IAttentionBackend
{
    private readonly GatherAttention _gather = new(numHeads, numKvHeads, headDim, slidingWindow);
    private readonly double _scale = 1.0 / Math.Sqrt(headDim);

    /// <summary>The paged kernel's block tables for one-token rows, the varlen layout of the prefill chunks, and the
    /// gather path's slot lists for float32 chunks (<see cref="PagedAttentionMetadata.Build"/>).</summary>
    public IAttentionMetadata BuildMetadata(ForwardBatch batch) => PagedAttentionMetadata.Build(batch, slidingWindow);

    public Tensor Forward(int layer, Tensor q, Tensor k, Tensor v, ForwardBatch batch, KvCachePool cache)
    {
        cache.Store(layer, batch.SlotMapping, k, v);
        return AttendWritten(layer, q, k, v, batch, cache);
    }

    /// <summary>q [T, H, D], k/v [T, KV, D] (already in the cache) → [T, H·D].</summary>
    public Tensor AttendWritten(int layer, Tensor q, Tensor k, Tensor v, ForwardBatch batch, KvCachePool cache)
    {
        var m = batch.Attention as PagedAttentionMetadata
            ?? throw new InvalidOperationException($"the batch carries {batch.Attention?.GetType().Name ?? "no"} attention metadata; PagedCudaAttention needs its own (BuildMetadata)");
        if (m.Decode is { } d)
            return Paged(layer, q, d, cache).view(q.shape[0], numHeads * headDim);
        bool flash = m.Varlen is not null && q.dtype is ScalarType.BFloat16 or ScalarType.Float16;
        if (flash && m.Varlen!.Rows is null)
            return Varlen(layer, q, k, v, m.Varlen, cache).view(q.shape[0], numHeads * headDim);
        if (!flash && m.MixedDecode is null)
            return _gather.AttendWritten(layer, q, k, v, batch, m.Gather!, cache);
        // Rows of two kinds: the one-token rows in one paged launch, the prefill chunks by flash or per sequence.
        using var scope = NewDisposeScope();
        var result = empty([q.shape[0], numHeads * headDim], q.dtype, q.device);  // [T, H·D]
        if (m.MixedDecode is { } mixed)
        {
            var decoded = Paged(layer, q.index_select(0, mixed.Rows), mixed.Metadata, cache);
            result.index_copy_(0, mixed.Rows, decoded.view(decoded.shape[0], numHeads * headDim));
        }
        if (flash)
        {
            var prefill = Varlen(layer, q, k, v, m.Varlen!, cache);
            result.index_copy_(0, m.Varlen!.Rows!, prefill.view(prefill.shape[0], numHeads * headDim));
        }
        else
            _gather.AttendInto(result, layer, q, k, v, batch, m.Gather!, cache, m.MixedDecode!.SequenceIndices);
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Whether decode steps rotate q and k and write the cache inside the paged kernel (one launch per layer instead of
    /// two); INFERENCE_DECODE_ROPE_IN_ATTENTION=0 turns it off (for comparisons).
    /// </summary>
    public static readonly bool RopeInDecodeKernel = Environment.GetEnvironmentVariable("INFERENCE_DECODE_ROPE_IN_ATTENTION") != "0";

    /// <summary>Decode steps (every row one token) in the paged kernel, rotary and cache write included; null otherwise.</summary>
    public Tensor? AttendDecodeRotating(int layer, Tensor qkv, Tensor positions, Tensor cos, Tensor sin, ForwardBatch batch, KvCachePool cache)
    {
        if (!RopeInDecodeKernel || batch.Attention is not PagedAttentionMetadata { Decode: { } d }) return null;
        var output = empty([qkv.shape[0], numHeads, headDim], qkv.dtype, qkv.device);   // [B, H, D]
        kernels.PagedDecodeAttentionRope(output, qkv, cache.Keys(layer), cache.Values(layer), d.BlockTables, d.ContextLengths, positions, cos, sin,
            batch.SlotMapping, _scale, cache.BlockSize, slidingWindow ?? 0);
        return output.view(qkv.shape[0], numHeads * headDim);
    }

    /// <summary>q [B, H, D] (heads contiguous) against each row's paged context → [B, H, D].</summary>
    private Tensor Paged(int layer, Tensor q, DecodeMetadata d, KvCachePool cache)
    {
        var output = empty_like(q);
        kernels.PagedDecodeAttention(output, q, cache.Keys(layer), cache.Values(layer), d.BlockTables, d.ContextLengths, _scale, cache.BlockSize, slidingWindow ?? 0);
        return output;
    }

    /// <summary>The varlen sequences' queries against their contexts → [Tq, H, D] in packed order.</summary>
    private Tensor Varlen(int layer, Tensor q, Tensor k, Tensor v, VarlenPrefill p, KvCachePool cache)
    {
        using var scope = NewDisposeScope();
        Tensor Rows(Tensor x) => p.Rows is null ? x : x.index_select(0, p.Rows);
        var qs = Rows(q);                                                                    // [Tq, H, D]
        var (ks, vs) = p.KeySlots is null                                                     // [Tk, KV, D]
            ? (Rows(k), Rows(v))
            : (cache.Keys(layer).index_select(0, p.KeySlots), cache.Values(layer).index_select(0, p.KeySlots));
        var output = empty_like(qs);
        kernels.VarlenAttention(output, qs, ks, vs, p.CuQ, p.CuK, p.MaxQ, p.MaxK, _scale, slidingWindow ?? 0);
        return output.MoveToOuterDisposeScope();
    }
}
