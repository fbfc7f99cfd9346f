using InferenceServer.Engine.Runtime;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Runner;

/// <summary>
/// The rows of a step whose input token was sampled by the step still in flight: their ids are copied on the device
/// from that step's samples, so the step launches before those ids reach the host (async scheduling).
/// </summary>
/// <param name="Rows">Rows of the step's token ids [T] to fill.</param>
/// <param name="SampleRows">For each, its row in <paramref name="SampledIds"/>.</param>
/// <param name="SampledIds">[B] int64 ids on the device.</param>
public sealed record PendingTokenFeed(int[] Rows, int[] SampleRows, Tensor SampledIds)
{
    /// <summary>Writes the fed ids into <paramref name="tokenIds"/> [T] int64 (on the same device).</summary>
    public void Apply(Tensor tokenIds)
    {
        int n = Rows.Length;
        if (n == 0) return;
        using var scope = NewDisposeScope();
        bool identity = n == SampledIds.shape[0] && Rows.Select((r, i) => r == i && SampleRows[i] == i).All(x => x);
        if (identity)   // the steady state: the same sequences decode in the same order
        {
            tokenIds.narrow(0, 0, n).copy_(SampledIds);
            return;
        }
        var rows = HostToDevice.Copy(Rows.Select(r => (long)r).ToArray(), tokenIds.device);
        var sources = HostToDevice.Copy(SampleRows.Select(r => (long)r).ToArray(), tokenIds.device);
        tokenIds.index_copy_(0, rows, SampledIds.index_select(0, sources));
    }
}
