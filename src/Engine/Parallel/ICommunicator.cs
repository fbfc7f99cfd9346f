using static TorchSharp.torch;

namespace InferenceServer.Engine.Parallel;

/// <summary>How <see cref="ICommunicator.AllReduce"/> combines the ranks' tensors.</summary>
public enum ReduceOp
{
    Sum,
    Max,
}

/// <summary>
/// The collectives tensor parallelism needs, as one rank of a group sees them (NCCL's vocabulary). Every rank of the
/// group calls the same collectives in the same order with tensors of the same shape and dtype; a call returns once
/// this rank's result is ready. Implementations: <see cref="ThreadCommunicator"/> (in-process ranks on threads, CPU
/// tensors; the test seam) and, on CUDA, the native library's NCCL communicator (docs/tensor-parallelism.md), which
/// enqueues each collective on the rank's current stream so CUDA graphs capture it.
/// </summary>
public interface ICommunicator : IDisposable
{
    int Rank { get; }
    int WorldSize { get; }

    /// <summary>Replaces <paramref name="tensor"/> on every rank with the ranks' element-wise sum (or max).</summary>
    void AllReduce(Tensor tensor, ReduceOp op = ReduceOp.Sum);

    /// <summary>The ranks' tensors concatenated along <paramref name="dim"/> in rank order (a new tensor).</summary>
    Tensor AllGather(Tensor tensor, int dim);

    /// <summary>Replaces <paramref name="tensor"/> on every rank with rank <paramref name="root"/>'s.</summary>
    void Broadcast(Tensor tensor, int root);

    /// <summary>
    /// Breaks the group after a rank failed (NCCL's ncclCommAbort): collectives waiting now or called later, on any
    /// rank, throw instead of waiting for a partner that will not come.
    /// </summary>
    void Abort(Exception reason);
}
