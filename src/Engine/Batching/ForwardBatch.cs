using static TorchSharp.torch;

namespace InferenceServer.Engine.Batching;

/// <summary>
/// One sequence's part of a flattened batch: its query tokens are rows [QueryStart, QueryStart + QueryLength) of the
/// batch, and after this step its cache holds ContextLength tokens (the query tokens being the last ones), in the
/// blocks of <paramref name="BlockTable"/>. Host-side only: attention backends derive their device inputs from it.
/// </summary>
/// <param name="BlockTable">The sequence's KV blocks in order (at least enough for ContextLength tokens); read when
/// the backend builds its metadata at the start of the forward pass, so it must not change before then.</param>
public sealed record SequenceSpan(int QueryStart, int QueryLength, int ContextLength, IReadOnlyList<int> BlockTable)
{
    /// <summary>Position of the first query token: the number of tokens already in the cache.</summary>
    public int StartPosition => ContextLength - QueryLength;
}

/// <summary>
/// The inputs of one forward pass over T tokens from any number of sequences (prefill chunks and decodes mixed),
/// vLLM-style: tokens are concatenated, never padded. Backend-neutral: each attention backend builds its own
/// <see cref="Attention"/> metadata from these fields (vLLM v1's per-backend attention metadata builders).
/// </summary>
public sealed class ForwardBatch : IDisposable
{
    /// <summary>[T] int64 token ids.</summary>
    public required Tensor TokenIds { get; init; }
    /// <summary>[T] int64 absolute positions.</summary>
    public required Tensor Positions { get; init; }
    /// <summary>[T] int64 cache slots the new keys/values are written to.</summary>
    public required Tensor SlotMapping { get; init; }
    /// <summary>One span per sequence, in row order.</summary>
    public required IReadOnlyList<SequenceSpan> Sequences { get; init; }
    /// <summary>[N] int64 rows whose logits are wanted (usually each sequence's last token), ascending: N = T means every row.</summary>
    public required Tensor LogitsRows { get; init; }
    /// <summary>Tokens per KV block of the cache the block tables index.</summary>
    public required int BlockSize { get; init; }
    /// <summary>The device the tensors live on.</summary>
    public required Device Device { get; init; }

    /// <summary>
    /// The attention backend's metadata for this batch, set by the model before its layers run (or by the caller
    /// beforehand, e.g. a CUDA-graph runner over its static inputs); disposed with the batch.
    /// </summary>
    public IAttentionMetadata? Attention { get; set; }

    public int NumTokens => (int)TokenIds.shape[0];

    public void Dispose()
    {
        TokenIds.Dispose();
        Positions.Dispose();
        SlotMapping.Dispose();
        LogitsRows.Dispose();
        Attention?.Dispose();
    }
}
