using InferenceServer.Engine.Runtime;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Parallel;

/// <summary>
/// One rank of an in-process group whose ranks run on threads and hold CPU tensors (the CI seam for the sharding
/// logic; GPUs use NCCL). A collective is two barrier phases: each rank posts its tensor, every rank computes the
/// result from all posted tensors in rank order (so every rank gets bit-identical results), and a second barrier
/// keeps the inputs alive and unmodified until everyone has read them.
/// </summary>
public sealed class ThreadCommunicator : ICommunicator
{
    private readonly Shared _shared;

    private ThreadCommunicator(Shared shared, int rank)
    {
        _shared = shared;
        Rank = rank;
    }

    public int Rank { get; }
    public int WorldSize => _shared.Slots.Length;

    /// <summary>A group of <paramref name="worldSize"/> communicators, one per rank, to be used from one thread each.</summary>
    /// <param name="timeout">Longest wait for the other ranks at one collective before the group breaks (default 2 minutes).</param>
    public static ThreadCommunicator[] CreateGroup(int worldSize, TimeSpan? timeout = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(worldSize, 1);
        var shared = new Shared(new Posted?[worldSize], new Rendezvous(worldSize, timeout ?? TimeSpan.FromMinutes(2)));
        return Enumerable.Range(0, worldSize).Select(r => new ThreadCommunicator(shared, r)).ToArray();
    }

    public void Abort(Exception reason) => _shared.Barrier.Fail(reason);

    public void AllReduce(Tensor tensor, ReduceOp op = ReduceOp.Sum)
    {
        Exchange(tensor, all =>
        {
            var result = all[0].clone();
            for (int r = 1; r < all.Length; r++)
                if (op == ReduceOp.Sum) Scalars.AddInPlace(result, all[r]);
                else result = result.maximum(all[r]);
            return result;
        }, (t, result) => t.copy_(result));
    }

    public Tensor AllGather(Tensor tensor, int dim)
    {
        Tensor? gathered = null;
        Exchange(tensor, all => cat(all, dim), (_, result) => gathered = result.alias().DetachFromDisposeScope());
        return gathered!;
    }

    public void Broadcast(Tensor tensor, int root)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(root);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(root, WorldSize);
        Exchange(tensor, all => all[root].clone(), (t, result) => t.copy_(result));
    }

    /// <summary>Posts <paramref name="tensor"/>, computes the result from every rank's, then lets each rank apply it.</summary>
    private void Exchange(Tensor tensor, Func<Tensor[], Tensor> combine, Action<Tensor, Tensor> apply)
    {
        if (tensor.device.type != TorchSharp.DeviceType.CPU)
            throw new InvalidOperationException("the thread communicator moves CPU tensors only; CUDA ranks use the NCCL communicator");
        _shared.Slots[Rank] = new Posted(tensor, tensor.shape, tensor.dtype);
        _shared.Barrier.Arrive(Rank);
        using var scope = NewDisposeScope();
        Tensor result;
        try
        {
            var posted = _shared.Slots.Select(s => s!).ToArray();
            CheckAlike(posted);   // from the shapes posted: a rank that fails here may dispose its tensor as it unwinds
            result = combine(posted.Select(p => p.Tensor).ToArray());
        }
        catch (Exception e)
        {
            var first = _shared.Barrier.Fail(e);
            if (!ReferenceEquals(first, e))   // another rank failed first: its reason is the one to report
                throw new InvalidOperationException($"the tensor-parallel group stopped: {first.Message}", first);
            throw;
        }
        _shared.Barrier.Arrive(Rank);   // every rank has read every input: each may now overwrite its own
        _shared.Slots[Rank] = null;
        apply(tensor, result);
    }

    private static void CheckAlike(Posted[] all)
    {
        foreach (var t in all)
            if (t.Dtype != all[0].Dtype || !t.Shape.SequenceEqual(all[0].Shape))
                throw new InvalidOperationException($"ranks disagree on a collective's tensor: [{string.Join(", ", all[0].Shape)}] {all[0].Dtype} vs [{string.Join(", ", t.Shape)}] {t.Dtype}");
    }

    public void Dispose() { }

    private sealed record Shared(Posted?[] Slots, Rendezvous Barrier);

    /// <summary>A rank's tensor with its shape and dtype read by that rank when it posted it.</summary>
    private sealed record Posted(Tensor Tensor, long[] Shape, ScalarType Dtype);
}
