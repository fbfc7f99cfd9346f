namespace InferenceServer.Kernels.Tests;

/// <summary>
/// The emulator's own detection of the two synchronisation bugs it exists to catch (kernel_checks.cpp, "selftest").
/// </summary>
public sealed class EmulatorSelfTests
{
    [Fact]
    public void AMissingBarrierGivesStaleSharedMemoryReads() => KernelEmulator.Check("selftest barrier");

    [Fact]
    public void AWarpWideInstructionWithoutAllItsLanesStopsTheRun()
    {
        var (code, output) = KernelEmulator.Execute("selftest divergence");
        Assert.NotEqual(0, code);
        Assert.Contains("cannot go on", output);
        Assert.Contains("warp 0: e a a", output);  // lane 0 exited, the others wait at the MMA
    }
}
