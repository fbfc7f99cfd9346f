using InferenceServer.Engine.Kernels;
using InferenceServer.Engine.Runtime;
using static TorchSharp.torch;

namespace InferenceServer.Gpu.Tests;

/// <summary>Initialises CUDA once; tests skip cleanly on machines without a usable CUDA libtorch.</summary>
public sealed class CudaFixture
{
    public Device? Device { get; }
    public string Why { get; } = "";

    public CudaFixture()
    {
        try
        {
            Device = TorchRuntime.Initialize("cuda", null, Console.WriteLine);
        }
        catch (Exception e)
        {
            Why = e.Message;
        }
    }

    public Device Require()
    {
        if (Device is null) Assert.Skip($"no CUDA: {Why}");
        return Device;
    }
}

/// <summary>The native kernel library for the kernel tests (<c>using static</c>): loaded, or an exception saying why not.</summary>
public static class TestKernels
{
    public static NativeKernels Kernels() => NativeKernels.TryGet(out var why) ?? throw new InvalidOperationException(why);
}

/// <summary>Measurements the GPU tests record, written to $OUT/gpu-results.json by whoever runs them.</summary>
public static class GpuReport
{
    private static readonly Dictionary<string, object> Values = new();

    // NaN and infinities are written as strings: a test that measures one must fail on its own assertion, not make
    // every later Record throw.
    private static readonly System.Text.Json.JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static void Record(string key, object value)
    {
        lock (Values)
        {
            Values[key] = value;
            var dir = Environment.GetEnvironmentVariable("OUT");
            if (string.IsNullOrEmpty(dir)) return;
            File.WriteAllText(Path.Combine(dir, "gpu-results.json"), System.Text.Json.JsonSerializer.Serialize(Values, Options));
        }
    }
}
