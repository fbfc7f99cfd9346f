using static TorchSharp.torch;

namespace InferenceServer.Engine.Runner;

/// <summary>
/// One sequence's part of a flattened batch: its query tokens are rows [QueryStart, QueryStart + QueryLength) of the
/// batch, and after this step its cache holds ContextLength tokens (the query tokens being the last ones).
/// </summary>
/// <param name="ContextSlots">Cache slots of all ContextLength tokens in order, [ContextLength] int64; null when
/// the query is the whole context (a fresh prefill), so attention can use the new keys directly.</param>
public sealed record SequenceSpan(int QueryStart, int QueryLength, int ContextLength, Tensor? ContextSlots);

/// <summary>
/// The inputs of one forward pass over T tokens from any number of sequences (prefill chunks and decodes mixed),
/// vLLM-style: tokens are concatenated, never padded.
/// </summary>
public sealed class ForwardBatch : IDisposable
{
    /// <summary>[T] int64 token ids.</summary>
    public required Tensor TokenIds { get; init; }
    /// <summary>[T] int64 absolute positions.</summary>
    public required Tensor Positions { get; init; }
    /// <summary>[T] int64 cache slots the new keys/values are written to.</summary>
    public required Tensor SlotMapping { get; init; }
    public required IReadOnlyList<SequenceSpan> Sequences { get; init; }
    /// <summary>[N] int64 rows whose logits are wanted (usually each sequence's last token).</summary>
    public required Tensor LogitsRows { get; init; }

    /// <summary>Set when every sequence feeds exactly one token (a decode step): what the paged kernel reads.</summary>
    public DecodeMetadata? Decode { get; init; }

    /// <summary>In a step that mixes prefill chunks with decodes: the one-token rows, which the paged kernel serves.</summary>
    public MixedDecode? MixedDecode { get; init; }

    /// <summary>CUDA: the multi-token sequences (prefill chunks) in one varlen flash-attention call.</summary>
    public VarlenPrefill? Varlen { get; init; }

    /// <summary>CPU: set when two or more sequences are fresh prefills; their attention runs as one padded batch.</summary>
    public PrefillLayout? Prefill { get; init; }

    public int NumTokens => (int)TokenIds.shape[0];

    public void Dispose()
    {
        TokenIds.Dispose();
        Positions.Dispose();
        SlotMapping.Dispose();
        LogitsRows.Dispose();
        Prefill?.Dispose();
        Varlen?.Dispose();
        Decode?.BlockTables.Dispose();
        Decode?.ContextLengths.Dispose();
        MixedDecode?.Rows.Dispose();
        MixedDecode?.Metadata.BlockTables.Dispose();
        MixedDecode?.Metadata.ContextLengths.Dispose();
        foreach (var s in Sequences) s.ContextSlots?.Dispose();
    }
}

/// <summary>Per-sequence block tables [B, M] int32 (padded with block 0) and context lengths [B] int32.</summary>
public sealed record DecodeMetadata(Tensor BlockTables, Tensor ContextLengths);

/// <summary>The one-token sequences of a mixed step: their rows [Bd] int64, paged-kernel inputs, and indices in the batch.</summary>
public sealed record MixedDecode(Tensor Rows, DecodeMetadata Metadata, IReadOnlySet<int> SequenceIndices);
