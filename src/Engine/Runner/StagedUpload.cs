using InferenceServer.Engine.Kernels;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Runner;

/// <summary>
/// Copies a host array into one static device tensor each step through two page-locked buffers used in turn: one
/// non-blocking transfer per step, with no per-step tensor or pinned allocation. A buffer is rewritten only after the
/// event recorded behind its last transfer has passed, so a copy still queued behind a running step is never
/// overwritten (under async scheduling that transfer is two steps old and has run long since).
/// </summary>
internal sealed class StagedUpload<T> : IDisposable where T : unmanaged
{
    private readonly NativeKernels _kernels;
    private readonly Tensor _destination;
    private readonly Tensor[] _pinned;
    private readonly IntPtr[] _copied;
    private int _next;

    /// <param name="destination">A contiguous CUDA tensor of T; the host arrays passed to <see cref="Upload"/> have its element count.</param>
    public StagedUpload(NativeKernels kernels, Tensor destination)
    {
        _kernels = kernels;
        _destination = destination;
        _pinned = new Tensor[2];
        for (int i = 0; i < 2; i++)
            using (var pageable = empty(destination.shape, destination.dtype, CPU))
                _pinned[i] = pageable.pin_memory();
        _copied = [kernels.EventNew(), kernels.EventNew()];
    }

    public void Upload(T[] host)
    {
        int b = _next;
        _next ^= 1;
        _kernels.EventSynchronize(_copied[b]);
        _pinned[b].data<T>().CopyFrom(host);
        _destination.copy_(_pinned[b], nonBlocking: true);
        _kernels.EventRecord(_copied[b]);
    }

    public void Dispose()
    {
        foreach (var e in _copied) _kernels.EventDelete(e);
        foreach (var t in _pinned) t.Dispose();
    }
}
