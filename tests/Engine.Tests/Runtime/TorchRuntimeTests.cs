using InferenceServer.Engine.Runtime;
using TorchSharp;

namespace InferenceServer.Engine.Tests.Runtime;

/// <summary>Device selection on a machine without a usable CUDA libtorch (CI): auto falls back, cuda fails clearly.</summary>
public sealed class TorchRuntimeTests
{
    [Fact]
    public void WithoutCudaAutoFallsBackToCpuAndCudaFailsWithAHint()
    {
        if (torch.cuda.is_available()) Assert.Skip("this machine has CUDA");
        var log = new List<string>();
        var debug = new List<string>();
        Assert.Equal(DeviceType.CPU, TorchRuntime.Initialize("auto", null, log.Add, debug.Add).type);
        // One short line on a CPU machine; libtorch's message and loader trace only at --log-level debug.
        var line = Assert.Single(log);
        Assert.StartsWith("device: cpu (no usable CUDA", line);
        Assert.Contains("--libtorch", line);
        Assert.DoesNotContain("Trace from", line);
        Assert.True(line.Length < 120, line);
        Assert.Contains(debug, d => d.StartsWith("CUDA start failed:", StringComparison.Ordinal));
        var e = Assert.Throws<InvalidOperationException>(() => TorchRuntime.Initialize("cuda", null, _ => { }));
        Assert.Contains("--device cuda was asked for", e.Message);
        Assert.DoesNotContain("Trace from", e.Message);
        Assert.Contains(TorchRuntime.LibTorchEnvVar, e.Message);
    }

    [Fact]
    public void NamedLibTorchFolderMustExistAndBeACudaBuild()
    {
        var e = Assert.Throws<ArgumentException>(() => TorchRuntime.Initialize("cuda", "/nonexistent/torch/lib", _ => { }));
        Assert.Contains("/nonexistent/torch/lib", e.Message);
        Assert.Throws<ArgumentException>(() => TorchRuntime.Initialize("tpu", null, _ => { }));
    }
}
