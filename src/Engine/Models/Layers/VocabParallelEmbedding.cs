using InferenceServer.Engine.Parallel;
using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Models.Layers;

/// <summary>
/// Token embeddings split by vocabulary: a rank holds rows [Start, Start + Count) of the table, looks up the ids that
/// fall there, writes zeros for the rest, and one all-reduce sums the ranks' rows (each id is non-zero on exactly one
/// rank, so the sum is the row itself, bit for bit). With one rank it is a plain lookup.
/// </summary>
public sealed class VocabParallelEmbedding : IDisposable
{
    private readonly ICommunicator _comm;
    private readonly Scalar _start, _end, _last, _zero = 0.0.ToScalar(), _firstRow = 0L.ToScalar();

    /// <summary>[Count, width] this rank's rows of the table.</summary>
    public Tensor Weight { get; }
    public int Start { get; }
    public int Count { get; }

    /// <param name="weight">[Count, width] this rank's rows (see <see cref="TensorParallelLayout.Vocab"/>); owned from here on.</param>
    public VocabParallelEmbedding(Tensor weight, int start, ICommunicator comm)
    {
        Weight = weight;
        Start = start;
        Count = (int)weight.shape[0];
        _comm = comm;
        _start = ((long)start).ToScalar();
        _end = ((long)start + Count).ToScalar();
        _last = ((long)Math.Max(0, Count - 1)).ToScalar();
    }

    /// <param name="ids">[T] int64 token ids.</param>
    /// <returns>[T, width] their embeddings.</returns>
    public Tensor Forward(Tensor ids)
    {
        if (_comm is SingleRankCommunicator) return Weight.index_select(0, ids);
        using var scope = NewDisposeScope();
        var outside = ids.lt(_start).logical_or(ids.ge(_end));                        // [T] bool
        var local = ids.sub(_start).clamp(_firstRow, _last);                             // [T] rows of this share
        var rows = Weight.index_select(0, local).masked_fill(outside.unsqueeze(1), _zero);   // [T, width]
        _comm.AllReduce(rows);
        return rows.MoveToOuterDisposeScope();
    }

    public void Dispose() => Weight.Dispose();
}
