using InferenceServer.Engine.Batching;
using InferenceServer.Engine.Runtime;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Attention;

/// <summary>The paged kernel's inputs: per-sequence block tables [B, M] int32 (padded with block 0) and context lengths [B] int32.</summary>
public sealed record DecodeMetadata(Tensor BlockTables, Tensor ContextLengths)
{
    /// <summary>Block tables [B, width] int32 (unused entries 0, width the longest table) and context lengths [B] int32.</summary>
    public static DecodeMetadata Build(IReadOnlyList<SequenceSpan> spans, Device device)
    {
        int width = spans.Max(s => s.BlockTable.Count);
        var tables = new int[spans.Count * width];
        var lens = new int[spans.Count];
        for (int i = 0; i < spans.Count; i++)
        {
            var s = spans[i];
            for (int j = 0; j < s.BlockTable.Count && j < width; j++) tables[i * width + j] = s.BlockTable[j];
            lens[i] = s.ContextLength;
        }
        return new DecodeMetadata(HostToDevice.Move(tensor(tables, [spans.Count, width]), device), HostToDevice.Copy(lens, device));
    }

    public void DisposeTensors()
    {
        BlockTables.Dispose();
        ContextLengths.Dispose();
    }
}

/// <summary>The one-token sequences of a mixed step: their rows [Bd] int64, paged-kernel inputs, and indices in the batch.</summary>
public sealed record MixedDecode(Tensor Rows, DecodeMetadata Metadata, IReadOnlySet<int> SequenceIndices) : IDisposable
{
    /// <summary>Null when no sequence of the step feeds exactly one token.</summary>
    public static MixedDecode? Build(IReadOnlyList<SequenceSpan> spans, Device device)
    {
        var single = Enumerable.Range(0, spans.Count).Where(i => spans[i].QueryLength == 1).ToArray();
        if (single.Length == 0) return null;
        return new MixedDecode(HostToDevice.Copy(single.Select(i => (long)spans[i].QueryStart).ToArray(), device),
            DecodeMetadata.Build(single.Select(i => spans[i]).ToList(), device), single.ToHashSet());
    }

    public void Dispose()
    {
        Rows.Dispose();
        Metadata.DisposeTensors();
    }
}
