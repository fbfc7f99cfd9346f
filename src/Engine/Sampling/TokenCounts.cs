using InferenceServer.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Sampling;

/// <summary>
/// Per-row token histograms on the device, built with one scatter_add over a padded id matrix
/// (no per-token tensor ops).
/// </summary>
internal static class TokenCounts
{
    /// <summary>
    /// Counts of each token id per row: [B, V] float32. <paramref name="perRowIds"/> has one entry per row;
    /// a null entry counts nothing. Padding uses the id V, which lands in an extra column that is cut off.
    /// </summary>
    public static Tensor Build(IReadOnlyList<IEnumerable<int>?> perRowIds, int vocabSize, Device device)
    {
        var batch = perRowIds.Count;
        var lists = perRowIds.Select(ids => ids as IReadOnlyCollection<int> ?? ids?.ToArray() ?? []).ToArray();
        var width = Math.Max(1, lists.Max(l => l.Count));

        // Host [B, L] int64, padded with V.
        var padded = new long[batch * width];
        Array.Fill(padded, vocabSize);
        for (var row = 0; row < batch; row++)
        {
            var col = 0;
            foreach (var id in lists[row])
                padded[row * width + col++] = id;
        }

        var index = HostToDevice.Move(torch.tensor(padded, batch, width, ScalarType.Int64), device);   // [B, L]
        var ones = torch.ones(batch, width, ScalarType.Float32, device);                          // [B, L]
        var counts = torch.zeros(batch, vocabSize + 1, ScalarType.Float32, device);              // [B, V+1]
        counts.scatter_add_(1, index, ones);
        return counts.narrow(1, 0, vocabSize);                                                     // [B, V]
    }
}
