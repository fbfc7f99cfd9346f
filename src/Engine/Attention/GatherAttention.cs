using InferenceServer.Engine.Batching;
using InferenceServer.Engine.KvCache;
using InferenceServer.Engine.Runtime;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Attention;

/// <summary>
/// Exact paged attention by gathering each sequence's cached keys/values through its slot list and calling SDPA.
/// Correct on any device; the CPU path and the reference for the CUDA kernels.
/// </summary>
public sealed class GatherAttention(int numHeads, int numKvHeads, int headDim, int? slidingWindow) : IAttentionBackend
{
    /// <summary>Each sequence's context slots where it has cached tokens, and on CPU the batched-prefill layout.</summary>
    public IAttentionMetadata BuildMetadata(ForwardBatch batch) => GatherAttentionMetadata.Build(batch, slidingWindow);

    public Tensor Forward(int layer, Tensor q, Tensor k, Tensor v, ForwardBatch batch, KvCachePool cache)
    {
        cache.Store(layer, batch.SlotMapping, k, v);
        return AttendWritten(layer, q, k, v, batch, cache);
    }

    /// <summary>Attention once the step's keys/values are already in the cache.</summary>
    public Tensor AttendWritten(int layer, Tensor q, Tensor k, Tensor v, ForwardBatch batch, KvCachePool cache) =>
        AttendWritten(layer, q, k, v, batch, Metadata(batch), cache);

    /// <summary>As <see cref="AttendWritten(int, Tensor, Tensor, Tensor, ForwardBatch, KvCachePool)"/> with
    /// metadata another backend built for the rows it hands over.</summary>
    public Tensor AttendWritten(int layer, Tensor q, Tensor k, Tensor v, ForwardBatch batch, GatherAttentionMetadata m, KvCachePool cache)
    {
        using var scope = NewDisposeScope();
        Tensor? freshOut = m.Prefill is { } p ? BatchedPrefill(q, k, v, p) : null;          // [Tf, H·D]
        if (freshOut is not null && m.Prefill!.AllRows)
            return freshOut.MoveToOuterDisposeScope();
        if (freshOut is null)
        {
            var outputs = batch.Sequences.Select((s, i) => AttendSequence(s, m.ContextSlots[i], q, k, v, cache.Keys(layer), cache.Values(layer))).ToList();
            return (outputs.Count == 1 ? outputs[0] : cat(outputs, 0)).MoveToOuterDisposeScope();
        }
        // Mixed step: fresh prefills came out of the batched call; the rest attend one by one into their rows.
        var result = empty([q.shape[0], numHeads * headDim], q.dtype, q.device);
        result.index_copy_(0, m.Prefill!.FreshRows, freshOut);
        AttendInto(result, layer, q, k, v, batch, m, cache, m.Prefill.FreshSequenceIndices);
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Writes the attention of every sequence not in <paramref name="skip"/> into its rows of
    /// <paramref name="result"/> [T, H·D] (keys/values already in the cache); the skipped rows are left alone.
    /// </summary>
    public void AttendInto(Tensor result, int layer, Tensor q, Tensor k, Tensor v, ForwardBatch batch, GatherAttentionMetadata m, KvCachePool cache, IReadOnlySet<int> skip)
    {
        using var scope = NewDisposeScope();
        for (int i = 0; i < batch.Sequences.Count; i++)
        {
            if (skip.Contains(i)) continue;
            var s = batch.Sequences[i];
            result.narrow(0, s.QueryStart, s.QueryLength).copy_(AttendSequence(s, m.ContextSlots[i], q, k, v, cache.Keys(layer), cache.Values(layer)));
        }
    }

    private static GatherAttentionMetadata Metadata(ForwardBatch batch) => batch.Attention as GatherAttentionMetadata
        ?? throw new InvalidOperationException($"the batch carries {batch.Attention?.GetType().Name ?? "no"} attention metadata; GatherAttention needs its own (BuildMetadata)");

    /// <summary>One sequence's queries against its context: the step's own keys for a fresh prefill, else the cache.</summary>
    private Tensor AttendSequence(SequenceSpan s, Tensor? contextSlots, Tensor q, Tensor k, Tensor v, Tensor kCache, Tensor vCache)
    {
        var qs = q.narrow(0, s.QueryStart, s.QueryLength);                          // [n, H, D]
        var (ks, vs) = contextSlots is null                                         // [ctx, KV, D]
            ? (k.narrow(0, s.QueryStart, s.QueryLength), v.narrow(0, s.QueryStart, s.QueryLength))
            : (kCache.index_select(0, contextSlots), vCache.index_select(0, contextSlots));
        return Attend(qs, ks, vs, s.ContextLength);
    }

    /// <summary>All fresh prefills of the step in one SDPA call over a padded [B, H, L, D] block.</summary>
    private Tensor BatchedPrefill(Tensor q, Tensor k, Tensor v, PrefillLayout p)
    {
        int b = p.Sequences, l = p.Length;
        Tensor Pad(Tensor x, int heads)                                             // [T, h, D] → [B, H, L, D]
        {
            var padded = x.index_select(0, p.RowIndex).view(b, l, heads, headDim);
            if (heads != numHeads) padded = padded.repeat_interleave(numHeads / heads, 2);
            return padded.transpose(1, 2);
        }
        var o = nn.functional.scaled_dot_product_attention(Pad(q, numHeads), Pad(k, numKvHeads), Pad(v, numKvHeads), p.Mask);
        return o.transpose(1, 2).reshape(b * l, numHeads * headDim).index_select(0, p.ValidSlots);
    }

    /// <summary>Causal (optionally windowed) attention of n queries, the last n of ctx positions.</summary>
    private Tensor Attend(Tensor qs, Tensor ks, Tensor vs, int ctx)
    {
        int n = (int)qs.shape[0];
        int firstKey = 0;
        if (slidingWindow is int w && ctx > w && n == 1)
            firstKey = ctx - w; // a decode step only sees the last w keys
        if (firstKey > 0)
        {
            ks = ks.narrow(0, firstKey, ctx - firstKey);
            vs = vs.narrow(0, firstKey, ctx - firstKey);
        }
        if (numKvHeads != numHeads)
        {
            ks = ks.repeat_interleave(numHeads / numKvHeads, 1);
            vs = vs.repeat_interleave(numHeads / numKvHeads, 1);
        }
        // 4-D [1, H, len, D]: ATen's flash and memory-efficient kernels take only 4-D inputs; 3-D ones fall back to
        // the math path (float32 matmuls, a materialised mask), which made CUDA prefill several times slower.
        var qh = qs.transpose(0, 1).unsqueeze(0);   // [1, H, n, D]
        var kh = ks.transpose(0, 1).unsqueeze(0);   // [1, H, ctx', D]
        var vh = vs.transpose(0, 1).unsqueeze(0);
        Tensor o;
        if (n == 1)
            o = nn.functional.scaled_dot_product_attention(qh, kh, vh);
        else if (n == ctx && (slidingWindow is null || ctx <= slidingWindow))
            o = nn.functional.scaled_dot_product_attention(qh, kh, vh, is_casual: true);
        else
            o = nn.functional.scaled_dot_product_attention(qh, kh, vh, CausalMask(n, ctx, qs.device));
        return o.squeeze(0).transpose(0, 1).reshape(n, numHeads * headDim); // [n, H·D]
    }

    /// <summary>[n, ctx] bool: query j sits at position ctx-n+j and sees keys p ≤ it (within the window).</summary>
    private Tensor CausalMask(int n, int ctx, Device device)
    {
        var qPos = Scalars.Arange(ctx - n, ctx, ScalarType.Int64, device).unsqueeze(1);
        var kPos = Scalars.Arange(ctx, ScalarType.Int64, device).unsqueeze(0);
        var mask = kPos <= qPos;
        if (slidingWindow is int w)
            mask = mask.logical_and((qPos - kPos) < tensor(new[] { (long)w }, device: device)); // a tensor, not a temporary Scalar
        return mask;
    }
}
