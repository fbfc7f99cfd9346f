using InferenceServer.Engine.Runtime;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Batching;

/// <summary>One sequence's share of a step: new tokens at positions StartPosition.., with its block table.</summary>
/// <param name="AllLogits">Return logits for every new token (perplexity, prompt logprobs) rather than the last one.</param>
public sealed record SequenceChunk(IReadOnlyList<int> Tokens, int StartPosition, IReadOnlyList<int> BlockTable, bool AllLogits = false);

/// <summary>
/// Flattens sequence chunks into the index tensors of a <see cref="ForwardBatch"/> on the model's device. What the
/// attention kernels read beyond these is built by the model's backend (<c>IAttentionBackend.BuildMetadata</c>).
/// </summary>
public static class ForwardBatchBuilder
{
    public static ForwardBatch Build(IReadOnlyList<SequenceChunk> chunks, int blockSize, Device device)
    {
        int total = chunks.Sum(c => c.Tokens.Count);
        var ids = new long[total];
        var positions = new long[total];
        var slots = new long[total];
        var logitRows = new List<long>();
        var spans = new List<SequenceSpan>(chunks.Count);
        int row = 0;
        foreach (var c in chunks)
        {
            int n = c.Tokens.Count, ctx = c.StartPosition + n;
            if (n == 0) throw new ArgumentException("a sequence chunk must hold at least one token");
            if ((long)c.BlockTable.Count * blockSize < ctx)
                throw new ArgumentException($"block table of {c.BlockTable.Count} blocks cannot hold {ctx} tokens");
            for (int i = 0; i < n; i++)
            {
                ids[row + i] = c.Tokens[i];
                positions[row + i] = c.StartPosition + i;
                slots[row + i] = Slot(c.BlockTable, blockSize, c.StartPosition + i);
            }
            spans.Add(new SequenceSpan(row, n, ctx, c.BlockTable));
            if (c.AllLogits)
                for (int i = 0; i < n; i++) logitRows.Add(row + i);
            else
                logitRows.Add(row + n - 1);
            row += n;
        }
        return new ForwardBatch
        {
            TokenIds = HostToDevice.Copy(ids, device),
            Positions = HostToDevice.Copy(positions, device),
            SlotMapping = HostToDevice.Copy(slots, device),
            Sequences = spans,
            LogitsRows = HostToDevice.Copy(logitRows.ToArray(), device),
            BlockSize = blockSize,
            Device = device,
        };
    }

    /// <summary>The cache slot of <paramref name="position"/> in a sequence with this block table.</summary>
    public static long Slot(IReadOnlyList<int> blockTable, int blockSize, int position) =>
        (long)blockTable[position / blockSize] * blockSize + position % blockSize;
}
