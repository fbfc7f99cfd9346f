using InferenceServer.Engine.Batching;
using InferenceServer.Engine.Runtime;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Attention;

/// <summary>
/// How the fresh prefills of a step (sequences whose whole context is new) are padded into one [B, L] block so that
/// attention runs as one batched SDPA call instead of one call per sequence.
/// </summary>
/// <param name="RowIndex">[B·L] int64: batch row of each padded slot (padding points at the sequence's first row).</param>
/// <param name="Mask">[B, 1, L, L] bool: causal, key inside the sequence, and within the sliding window if any.</param>
/// <param name="ValidSlots">[Tf] int64: padded slots (b·L + j) that hold real tokens, in batch-row order.</param>
/// <param name="FreshRows">[Tf] int64: the batch rows of those tokens.</param>
/// <param name="AllRows">True when every row of the batch is a fresh prefill, in order (no scatter needed).</param>
public sealed record PrefillLayout(int Sequences, int Length, Tensor RowIndex, Tensor Mask, Tensor ValidSlots, Tensor FreshRows, bool AllRows,
    IReadOnlySet<int> FreshSequenceIndices) : IDisposable
{
    /// <summary>Null unless two or more sequences are fresh prefills (nothing cached before this step).</summary>
    public static PrefillLayout? Build(IReadOnlyList<SequenceSpan> spans, int totalRows, int? slidingWindow, Device device)
    {
        var fresh = Enumerable.Range(0, spans.Count).Where(i => spans[i].StartPosition == 0).ToList();
        if (fresh.Count < 2) return null;
        int b = fresh.Count, l = fresh.Max(i => spans[i].QueryLength);
        var rowIndex = new long[b * l];
        var mask = new bool[b * l * l];
        var valid = new List<long>();
        var rows = new List<long>();
        for (int s = 0; s < b; s++)
        {
            var span = spans[fresh[s]];
            for (int j = 0; j < l; j++)
            {
                rowIndex[s * l + j] = span.QueryStart + Math.Min(j, span.QueryLength - 1);
                for (int key = 0; key <= j && key < span.QueryLength; key++)
                    mask[(s * l + j) * l + key] = slidingWindow is not int w || j - key < w;
            }
            for (int j = 0; j < span.QueryLength; j++)
            {
                valid.Add(s * l + j);
                rows.Add(span.QueryStart + j);
            }
        }
        bool allRows = rows.Count == totalRows && rows.Select((r, i) => r == i).All(x => x);
        return new PrefillLayout(b, l,
            HostToDevice.Copy(rowIndex, device),
            HostToDevice.Move(tensor(mask), device).view(b, 1, l, l),
            HostToDevice.Copy(valid.ToArray(), device),
            HostToDevice.Copy(rows.ToArray(), device),
            allRows,
            fresh.ToHashSet());
    }

    public void Dispose()
    {
        RowIndex.Dispose();
        Mask.Dispose();
        ValidSlots.Dispose();
        FreshRows.Dispose();
    }
}
