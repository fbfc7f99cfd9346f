using InferenceServer.Engine.Batching;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Attention;

/// <summary>What <see cref="PagedCudaAttention"/> reads besides the batch's own fields.</summary>
/// <param name="Decode">Set when every sequence feeds exactly one token (a decode step): what the paged kernel reads.</param>
/// <param name="MixedDecode">In a step that mixes prefill chunks with decodes: the one-token rows, which the paged kernel serves.</param>
/// <param name="Varlen">The multi-token sequences (prefill chunks) in one varlen flash-attention call (float16/bfloat16).</param>
/// <param name="Gather">What the gather path reads for the prefill chunks in float32, which flash attention lacks
/// (no slot lists for one-token rows, which the paged kernel serves); null in a decode step.</param>
public sealed record PagedAttentionMetadata(DecodeMetadata? Decode, MixedDecode? MixedDecode, VarlenPrefill? Varlen, GatherAttentionMetadata? Gather)
    : IAttentionMetadata
{
    /// <summary>False when <see cref="Decode"/>'s tensors belong to someone else (<see cref="ForDecode"/>).</summary>
    private bool _ownsDecode = true;

    /// <summary>The paged kernel's inputs for every sequence of a step, one-token rows or prefill chunks.</summary>
    /// <param name="slidingWindow">The model's attention window (for the gather path's batched-prefill mask on CPU).</param>
    public static PagedAttentionMetadata Build(ForwardBatch batch, int? slidingWindow)
    {
        var spans = batch.Sequences;
        if (spans.All(s => s.QueryLength == 1))
            return new PagedAttentionMetadata(DecodeMetadata.Build(spans, batch.Device), null, null, null);
        return new PagedAttentionMetadata(null,
            MixedDecode.Build(spans, batch.Device),
            VarlenPrefill.Build(spans, spans.Sum(s => s.QueryLength), batch.BlockSize, batch.Device),
            GatherAttentionMetadata.Build(batch, slidingWindow, oneTokenRows: false));
    }

    /// <summary>
    /// A decode step over tensors the caller owns, e.g. a CUDA-graph runner's static inputs: block tables [B, M]
    /// int32 and context lengths [B] int32. Disposing the metadata leaves them alone.
    /// </summary>
    public static PagedAttentionMetadata ForDecode(Tensor blockTables, Tensor contextLengths) =>
        new(new DecodeMetadata(blockTables, contextLengths), null, null, null) { _ownsDecode = false };

    public void Dispose()
    {
        if (_ownsDecode) Decode?.DisposeTensors();
        MixedDecode?.Dispose();
        Varlen?.Dispose();
        Gather?.Dispose();
    }
}
