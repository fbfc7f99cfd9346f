using InferenceServer.Engine.Kernels;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Parallel;

/// <summary>
/// One rank of a tensor-parallel group on GPUs: NCCL through the native library (csrc/api_nccl.cpp). Each collective
/// is enqueued on the current stream of the tensor's device and returns at once, so it orders with the rank's kernels
/// and CUDA graphs capture it. In-process groups (one process driving N GPUs, rank r on cuda:r) are made with
/// <see cref="CreateGroup"/>.
/// </summary>
public sealed class NcclCommunicator : ICommunicator
{
    private readonly NativeKernels _kernels;
    private IntPtr _comm;
    private Exception? _aborted;

    private NcclCommunicator(NativeKernels kernels, IntPtr comm, int rank, int worldSize, int device)
    {
        _kernels = kernels;
        _comm = comm;
        Rank = rank;
        WorldSize = worldSize;
        Device = device;
    }

    public int Rank { get; }
    public int WorldSize { get; }

    /// <summary>The CUDA device index this rank's tensors live on.</summary>
    public int Device { get; }

    /// <summary>A group of <paramref name="worldSize"/> ranks in this process, rank r on cuda:r.</summary>
    public static NcclCommunicator[] CreateGroup(NativeKernels kernels, int worldSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(worldSize, 1);
        kernels.NcclVersion();   // a missing NCCL fails here, with the library's reason
        var devices = Enumerable.Range(0, worldSize).ToArray();
        var comms = kernels.NcclCommInitAll(devices);
        return comms.Select((c, r) => new NcclCommunicator(kernels, c, r, worldSize, devices[r])).ToArray();
    }

    /// <summary>Makes this rank's device the calling thread's current CUDA device.</summary>
    public void MakeDeviceCurrent() => _kernels.SetDevice(Device);

    public void AllReduce(Tensor tensor, ReduceOp op = ReduceOp.Sum)
    {
        var t = Contiguous(tensor);
        _kernels.NcclAllReduce(Comm, t, op == ReduceOp.Sum ? 0 : 1);
        if (!ReferenceEquals(t, tensor)) tensor.copy_(t);
    }

    /// <summary>
    /// NCCL concatenates along the first dimension: the ranks' tensors land in a [world, ...shape] buffer, and moving
    /// the world dimension next to <paramref name="dim"/> and merging the two gives the concatenation along it.
    /// </summary>
    public Tensor AllGather(Tensor tensor, int dim)
    {
        using var scope = NewDisposeScope();
        var input = Contiguous(tensor);
        var buffer = empty([WorldSize, .. input.shape], input.dtype, input.device);
        _kernels.NcclAllGather(Comm, input, buffer);
        long[] shape = [.. input.shape];
        int d = dim < 0 ? dim + shape.Length : dim;
        shape[d] *= WorldSize;
        return buffer.movedim([0L], [(long)d]).reshape(shape).MoveToOuterDisposeScope();
    }

    public void Broadcast(Tensor tensor, int root)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(root);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(root, WorldSize);
        var t = Contiguous(tensor);
        _kernels.NcclBroadcast(Comm, t, root);
        if (!ReferenceEquals(t, tensor)) tensor.copy_(t);
    }

    public void Abort(Exception reason)
    {
        lock (this)
        {
            if (_aborted is not null || _comm == IntPtr.Zero) return;
            _aborted = reason;
            _kernels.NcclAbort(_comm);
            _comm = IntPtr.Zero;
        }
    }

    private IntPtr Comm => _comm != IntPtr.Zero ? _comm
        : throw new InvalidOperationException($"the tensor-parallel group stopped: {_aborted?.Message ?? "its communicator was closed"}", _aborted);

    private static Tensor Contiguous(Tensor t) => t.is_contiguous() ? t : t.contiguous();

    public void Dispose()
    {
        lock (this)
        {
            if (_comm == IntPtr.Zero) return;
            _kernels.NcclDestroy(_comm);
            _comm = IntPtr.Zero;
        }
    }
}
