using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Runtime;

/// <summary>
/// Small host arrays moved to the device without waiting for the device: a plain copy from pageable memory makes
/// ATen synchronise the stream (it waits for every queued kernel), which would stall the engine while a step runs.
/// On CUDA the values go through page-locked memory and a non-blocking copy queued behind the earlier work.
/// </summary>
public static class HostToDevice
{
    public static Tensor Copy(long[] values, Device device) => Move(tensor(values), device);

    public static Tensor Copy(int[] values, Device device) => Move(tensor(values), device);

    public static Tensor Copy(float[] values, Device device) => Move(tensor(values), device);

    /// <summary>Copies <paramref name="host"/> (a CPU tensor it then disposes) into <paramref name="destination"/>.</summary>
    public static void CopyInto(Tensor destination, Tensor host)
    {
        using var pinned = Pinned(host, destination.device);
        destination.copy_(pinned, nonBlocking: destination.device.type == DeviceType.CUDA);
    }

    /// <summary><paramref name="host"/> (a CPU tensor, disposed here when it is copied) on <paramref name="device"/>.</summary>
    public static Tensor Move(Tensor host, Device device)
    {
        if (device.type == DeviceType.CPU) return host;
        using var pinned = Pinned(host, device);
        return pinned.to(device, non_blocking: true);
    }

    private static Tensor Pinned(Tensor host, Device device)
    {
        if (device.type != DeviceType.CUDA) return host;
        using (host) return host.pin_memory();
    }
}
