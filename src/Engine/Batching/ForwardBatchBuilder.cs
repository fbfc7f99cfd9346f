using InferenceServer.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Runner;

/// <summary>One sequence's share of a step: new tokens at positions StartPosition.., with its block table.</summary>
/// <param name="AllLogits">Return logits for every new token (perplexity, prompt logprobs) rather than the last one.</param>
public sealed record SequenceChunk(IReadOnlyList<int> Tokens, int StartPosition, IReadOnlyList<int> BlockTable, bool AllLogits = false);

/// <summary>Flattens sequence chunks into the index tensors of a <see cref="ForwardBatch"/> on the model's device.</summary>
public static class ForwardBatchBuilder
{
    /// <param name="kernelMetadata">Also build the native kernels' inputs: the paged-kernel metadata of one-token chunks (all of them, or those of a mixed step) and the varlen flash-attention layout of the others.</param>
    /// <param name="slidingWindow">The model's attention window, folded into the batched-prefill mask.</param>
    public static ForwardBatch Build(IReadOnlyList<SequenceChunk> chunks, int blockSize, Device device, bool kernelMetadata = false, int? slidingWindow = null)
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
            Tensor? contextSlots = null;
            if (c.StartPosition > 0 && !(kernelMetadata && n == 1)) // one-token rows read the cache through the paged kernel
            {
                var all = new long[ctx];
                for (int p = 0; p < ctx; p++) all[p] = Slot(c.BlockTable, blockSize, p);
                contextSlots = HostToDevice.Copy(all, device);
            }
            spans.Add(new SequenceSpan(row, n, ctx, contextSlots));
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
            // CPU only: on CUDA a masked SDPA over the padded block measured slower than per-sequence flash attention
            // (Llama-3-8B, 64×128-token prompts: TTFT p50 2.2 s vs 1.5 s on an H100). On 2 CPU cores it helps:
            // tiny-llama, 16×96-token prompts, TTFT p50 504 ms vs 557 ms.
            Prefill = device.type == DeviceType.CPU ? PrefillLayout.Build(spans, total, slidingWindow, device) : null,
            Decode = kernelMetadata && chunks.All(c => c.Tokens.Count == 1) ? BuildDecode(chunks, device, chunks.Max(c => c.BlockTable.Count)) : null,
            MixedDecode = kernelMetadata && chunks.Any(c => c.Tokens.Count > 1) ? BuildMixedDecode(chunks, spans, device) : null,
            Varlen = kernelMetadata ? VarlenPrefill.Build(chunks, spans, total, blockSize, device) : null,
        };
    }

    private static MixedDecode? BuildMixedDecode(IReadOnlyList<SequenceChunk> chunks, List<SequenceSpan> spans, Device device)
    {
        var single = Enumerable.Range(0, chunks.Count).Where(i => chunks[i].Tokens.Count == 1).ToArray();
        if (single.Length == 0) return null;
        var picked = single.Select(i => chunks[i]).ToList();
        return new MixedDecode(HostToDevice.Copy(single.Select(i => (long)spans[i].QueryStart).ToArray(), device),
            BuildDecode(picked, device, picked.Max(c => c.BlockTable.Count)), single.ToHashSet());
    }

    /// <summary>Block tables [B, width] int32 (unused entries 0) and context lengths [B] int32.</summary>
    public static DecodeMetadata BuildDecode(IReadOnlyList<SequenceChunk> chunks, Device device, int width)
    {
        var tables = new int[chunks.Count * width];
        var lens = new int[chunks.Count];
        for (int i = 0; i < chunks.Count; i++)
        {
            var c = chunks[i];
            for (int j = 0; j < c.BlockTable.Count && j < width; j++) tables[i * width + j] = c.BlockTable[j];
            lens[i] = c.StartPosition + c.Tokens.Count;
        }
        return new DecodeMetadata(HostToDevice.Move(tensor(tables, [chunks.Count, width]), device), HostToDevice.Copy(lens, device));
    }

    public static long Slot(IReadOnlyList<int> blockTable, int blockSize, int position) =>
        (long)blockTable[position / blockSize] * blockSize + position % blockSize;
}
