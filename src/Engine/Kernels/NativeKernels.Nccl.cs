using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Kernels;

/// <summary>NCCL collectives and device selection (csrc/api_nccl.cpp), for <see cref="Parallel.NcclCommunicator"/>.</summary>
public sealed unsafe partial class NativeKernels
{
    private IntPtr _ncclVersion, _ncclInitAll, _ncclAllReduce, _ncclAllGather, _ncclBroadcast, _ncclAbort, _ncclDestroy, _setDevice;

    /// <summary>NCCL's version code (22703 for 2.27.3); throws with the reason when NCCL cannot be opened.</summary>
    public int NcclVersion()
    {
        int v = ((delegate* unmanaged<int>)Export(ref _ncclVersion, "ik_nccl_version"))();
        if (v < 0) throw new InvalidOperationException(Marshal.PtrToStringUTF8(_lastError()));
        return v;
    }

    /// <summary>One communicator per device of <paramref name="devices"/>, in rank order, all in this process (ncclCommInitAll).</summary>
    public IntPtr[] NcclCommInitAll(IReadOnlyList<int> devices)
    {
        var comms = new IntPtr[devices.Count];
        var ids = devices.ToArray();
        fixed (int* d = ids)
        fixed (IntPtr* c = comms)
            Check(((delegate* unmanaged<int, int*, IntPtr*, int>)Export(ref _ncclInitAll, "ik_nccl_comm_init_all"))(ids.Length, d, c), "ncclCommInitAll");
        return comms;
    }

    /// <summary>In place on the tensor's current stream: the sum (op 0) or max (op 1) over the group.</summary>
    public void NcclAllReduce(IntPtr comm, Tensor t, int op) =>
        Check(((delegate* unmanaged<IntPtr, IntPtr, int, int>)Export(ref _ncclAllReduce, "ik_nccl_all_reduce"))(comm, t.Handle, op), "NCCL all-reduce");

    /// <summary>output (world × input's elements) ← the ranks' inputs in rank order.</summary>
    public void NcclAllGather(IntPtr comm, Tensor input, Tensor output) =>
        Check(((delegate* unmanaged<IntPtr, IntPtr, IntPtr, int>)Export(ref _ncclAllGather, "ik_nccl_all_gather"))(comm, input.Handle, output.Handle), "NCCL all-gather");

    /// <summary>In place: every rank's tensor becomes rank <paramref name="root"/>'s.</summary>
    public void NcclBroadcast(IntPtr comm, Tensor t, int root) =>
        Check(((delegate* unmanaged<IntPtr, IntPtr, int, int>)Export(ref _ncclBroadcast, "ik_nccl_broadcast"))(comm, t.Handle, root), "NCCL broadcast");

    public void NcclAbort(IntPtr comm) =>
        Check(((delegate* unmanaged<IntPtr, int>)Export(ref _ncclAbort, "ik_nccl_comm_abort"))(comm), "ncclCommAbort");

    public void NcclDestroy(IntPtr comm) =>
        Check(((delegate* unmanaged<IntPtr, int>)Export(ref _ncclDestroy, "ik_nccl_comm_destroy"))(comm), "ncclCommDestroy");

    /// <summary>Makes <paramref name="device"/> the calling thread's current CUDA device.</summary>
    public void SetDevice(int device) =>
        Check(((delegate* unmanaged<int, int>)Export(ref _setDevice, "ik_set_device"))(device), "cudaSetDevice");
}
