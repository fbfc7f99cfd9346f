using System.Runtime.InteropServices;
using InferenceServer.Engine.Core;

namespace InferenceServer.Engine.Tests.Core;

/// <summary>
/// Which failures the engine core treats as "this step ran out of memory" (its requests fail with 503, serving goes
/// on) rather than as a bug that stops the engine. The end-to-end path is OutOfMemoryStepTests in Server.Tests.
/// </summary>
public sealed class StepOutOfMemoryTests
{
    public static TheoryData<string, bool> Messages() => new()
    {
        // libtorch's CUDA caching allocator, as TorchSharp raises it (first line).
        { "CUDA out of memory. Tried to allocate 20.00 MiB (GPU 0; 79.15 GiB total capacity; 78.50 GiB already allocated)", true },
        // libtorch's CPU allocator.
        { "[enforce fail at alloc_cpu.cpp:83] err == 0. DefaultCPUAllocator: not enough memory: you tried to allocate 1099511627776 bytes.", true },
        { "Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu!", false },
        { "shape '[4, 8]' is invalid for input of size 30", false },
    };

    [Theory]
    [MemberData(nameof(Messages))]
    public void Libtorch_errors_are_told_apart_by_their_message(string message, bool outOfMemory)
    {
        Assert.Equal(outOfMemory, StepOutOfMemoryException.IsOutOfMemory(new ExternalException(message)));
        Assert.Equal(outOfMemory, StepOutOfMemoryException.IsOutOfMemory(new AggregateException(new ExternalException(message))));
    }

    [Fact]
    public void Only_allocation_failures_count()
    {
        Assert.True(StepOutOfMemoryException.IsOutOfMemory(new OutOfMemoryException()));
        Assert.False(StepOutOfMemoryException.IsOutOfMemory(new InvalidOperationException("out of memory")));   // not libtorch's
        Assert.False(StepOutOfMemoryException.IsOutOfMemory(null));
        var e = new StepOutOfMemoryException(new ExternalException("CUDA out of memory."));
        Assert.Contains("ran out of memory", e.Message);
        Assert.IsType<ExternalException>(e.InnerException);
    }
}
