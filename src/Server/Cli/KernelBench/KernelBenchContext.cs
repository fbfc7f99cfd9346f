using System.Diagnostics;
using InferenceServer.Engine.Kernels;
using static TorchSharp.torch;

namespace InferenceServer.Server.Cli.KernelBench;

/// <summary>What every bench-kernels suite gets: the CUDA device, the native library and a graph timer.</summary>
public sealed class KernelBenchContext(Device device, NativeKernels kernels, GraphTimer timer)
{
    public Device Device { get; } = device;
    public NativeKernels Kernels { get; } = kernels;
    public GraphTimer Timer { get; } = timer;

    /// <summary>
    /// Enough copies of a weight to fill 256 MiB, handed out in turn: each call gets the next, so by the time one
    /// comes round again it has left the 50 MB L2 cache, as in a model whose weights are read once per step.
    /// </summary>
    public static Func<T> Cycle<T>(long bytes, Func<T> make)
    {
        var copies = Enumerable.Range(0, (int)Math.Max(1, (256L << 20) / bytes + 1)).Select(_ => make()).ToArray();
        int next = 0;
        return () => copies[next++ % copies.Length];
    }

    /// <summary>
    /// Device-to-device copy bandwidth in bytes per second, counting bytes read plus bytes written (the ceiling the
    /// bandwidth figures are compared with): 20 eager copies of 1 GiB between two synchronisations, as PyTorch's eager
    /// copy_ is timed. The same copy replayed from a CUDA graph measured 2.7 TB/s on an H200, below what
    /// cuBLAS reads at, so it is not the ceiling.
    /// </summary>
    public double CopyBytesPerSecond()
    {
        using var scope = NewDisposeScope();
        const long bytes = 1L << 30;
        const int copies = 20;
        var src = empty([bytes], ScalarType.Byte, Device);
        var dst = empty([bytes], ScalarType.Byte, Device);
        dst.copy_(src);
        cuda.synchronize();
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < copies; i++) dst.copy_(src);
        cuda.synchronize();
        return 2.0 * bytes * copies / sw.Elapsed.TotalSeconds;
    }

    /// <summary>Per M, the geometric mean of <paramref name="key"/> over the shapes.</summary>
    public static Dictionary<string, double> GeoMeans(IEnumerable<Dictionary<string, object>> results, string key) => results
        .Where(r => r.ContainsKey(key))
        .GroupBy(r => (int)r["m"]).ToDictionary(g => g.Key.ToString(), g => Math.Exp(g.Average(r => Math.Log(Convert.ToDouble(r[key])))));

    public static string GpuName() => NvidiaSmi("name");

    /// <summary>Whether the GPU is a Hopper (compute capability 9.x), where the native library's sm_90 kernels run.</summary>
    public static bool IsHopper() => Hopper.Value;

    static readonly Lazy<bool> Hopper = new(() => NvidiaSmi("compute_cap").StartsWith("9.", StringComparison.Ordinal));

    static string NvidiaSmi(string field)
    {
        try
        {
            var psi = new ProcessStartInfo("nvidia-smi", $"--query-gpu={field} --format=csv,noheader --id=0") { RedirectStandardOutput = true };
            using var proc = Process.Start(psi)!;
            return proc.StandardOutput.ReadToEnd().Trim();
        }
        catch (Exception)
        {
            return "unknown";
        }
    }
}
