using InferenceServer.Engine.Batching;
using InferenceServer.Engine.Runtime;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Attention;

/// <summary>
/// The multi-token sequences of a CUDA step laid out for one varlen flash-attention call: their queries packed in
/// batch order, each against its whole context (its cached tokens, then the step's new ones).
/// </summary>
/// <param name="Rows">[Tq] int64 batch rows of the queries; null when they are all the batch's rows, in order.</param>
/// <param name="CuQ">[n+1] int32 offsets of each sequence's queries in the packed rows.</param>
/// <param name="CuK">[n+1] int32 offsets of each sequence's keys in the packed keys.</param>
/// <param name="KeySlots">[Tk] int64 cache slots of every sequence's context, in order; null when no sequence has
/// cached tokens, so the keys are the step's own (the same rows as the queries).</param>
public sealed record VarlenPrefill(Tensor? Rows, Tensor CuQ, Tensor CuK, Tensor? KeySlots, int MaxQ, int MaxK) : IDisposable
{
    /// <summary>Null when no sequence of the step feeds more than one token.</summary>
    public static VarlenPrefill? Build(IReadOnlyList<SequenceSpan> spans, int totalRows, int blockSize, Device device)
    {
        var picked = Enumerable.Range(0, spans.Count).Where(i => spans[i].QueryLength > 1).ToList();
        if (picked.Count == 0) return null;
        var rows = new List<long>();
        var cuQ = new int[picked.Count + 1];
        var cuK = new int[picked.Count + 1];
        bool anyCached = picked.Any(i => spans[i].StartPosition > 0);
        var keySlots = anyCached ? new List<long>() : null;
        for (int j = 0; j < picked.Count; j++)
        {
            var s = spans[picked[j]];
            for (int r = 0; r < s.QueryLength; r++) rows.Add(s.QueryStart + r);
            cuQ[j + 1] = cuQ[j] + s.QueryLength;
            cuK[j + 1] = cuK[j] + s.ContextLength;
            for (int p = 0; keySlots is not null && p < s.ContextLength; p++) keySlots.Add(ForwardBatchBuilder.Slot(s.BlockTable, blockSize, p));
        }
        bool allRows = rows.Count == totalRows && rows.Select((r, i) => r == i).All(x => x);
        return new VarlenPrefill(allRows ? null : HostToDevice.Copy(rows.ToArray(), device),
            HostToDevice.Copy(cuQ, device), HostToDevice.Copy(cuK, device),
            keySlots is null ? null : HostToDevice.Copy(keySlots.ToArray(), device),
            picked.Max(i => spans[i].QueryLength), picked.Max(i => spans[i].ContextLength));
    }

    public void Dispose()
    {
        Rows?.Dispose();
        CuQ.Dispose();
        CuK.Dispose();
        KeySlots?.Dispose();
    }
}
