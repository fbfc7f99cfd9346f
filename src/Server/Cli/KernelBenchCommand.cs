using System.CommandLine;
using System.Text.Json;
using InferenceServer.Engine.Kernels;
using InferenceServer.Engine.Runtime;
using InferenceServer.Server.Cli.KernelBench;

namespace InferenceServer.Server.Cli;

/// <summary>
/// <c>bench-kernels</c>: one suite of linear-layer kernels (<see cref="KernelBenchSuites"/>) side by side with cuBLAS
/// bf16 on one GPU in one run. Each op is timed from a CUDA graph of many back-to-back calls, so launch overhead does
/// not count, and cycles through enough copies of the weights (≥ 256 MiB) that none is still in the 50 MB L2 cache
/// when it comes round again, as in a model whose weights are read once per step. Prints one JSON object with
/// times, ratios to cuBLAS bf16, geometric means and the measured device-copy bandwidth.
/// </summary>
public static class KernelBenchCommand
{
    /// <summary>Llama-3-8B's four linear layers, N×K: qkv, o, gate_up, down.</summary>
    public const string LlamaShapes = "6144x4096,4096x4096,28672x4096,4096x14336";

    public static Command Create()
    {
        var libtorch = new Option<string?>("--libtorch") { Description = "Folder of a CUDA build of libtorch; also INFERENCE_LIBTORCH." };
        var suite = new Option<string>("--suite")
        {
            Description = "Which kernels: " + string.Join("; ", KernelBenchSuites.All.Select(s => $"{s.Name}: {s.Description}")) + ".",
            DefaultValueFactory = _ => "int8",
        };
        suite.AcceptOnlyFromAmong([.. KernelBenchSuites.All.Select(s => s.Name)]);
        var shapes = new Option<string?>("--shapes") { Description = "Weight shapes N×K, comma-separated (default: the suite's; Llama-3-8B's four linears for int8)." };
        var rows = new Option<string?>("--m") { Description = "Activation rows (tokens) M, comma-separated (default: the suite's)." };
        var iters = new Option<int>("--iters") { Description = "Calls per CUDA graph.", DefaultValueFactory = _ => 32 };
        var output = new Option<string?>("--output-json") { Description = "Also write the result to this file." };
        var cmd = new Command("bench-kernels", "Time the GEMMs of linear layers on CUDA: cuBLAS bf16 against the project's kernels, one suite per run.");
        foreach (var o in new Option[] { libtorch, suite, shapes, rows, iters, output }) cmd.Options.Add(o);
        cmd.SetAction(p =>
        {
            var bench = KernelBenchSuites.Find(p.GetValue(suite)!);
            // "auto", not "cuda": no device was named, so the refusal below should not say one was asked for.
            var device = TorchRuntime.Initialize("auto", p.GetValue(libtorch), Console.Error.WriteLine);
            if (device.type != TorchSharp.DeviceType.CUDA)
                throw new InvalidOperationException("bench-kernels times CUDA kernels and found no usable CUDA device (the line above says why); pass --libtorch DIR with a CUDA build of libtorch on a machine with a GPU.");
            var kernels = NativeKernels.TryGet(out var why) ?? throw new InvalidOperationException($"bench-kernels needs the native library: {why}");
            var context = new KernelBenchContext(device, kernels, new GraphTimer(kernels, p.GetValue(iters)));
            var results = new List<Dictionary<string, object>>();
            foreach (var (n, k) in ParseShapes(p.GetValue(shapes) ?? bench.DefaultShapes))
                foreach (var m in (p.GetValue(rows) ?? bench.DefaultRows).Split(',').Select(int.Parse))
                {
                    var r = bench.BenchShape(context, m, n, k);
                    Console.Error.WriteLine($"M={m,5} N={n,5} K={k,5}: " + string.Join(", ", r.Where(kv => kv.Key.EndsWith("_us")).Select(kv => $"{kv.Key}={kv.Value:F1}")));
                    results.Add(r);
                }
            var report = new Dictionary<string, object>
            {
                ["gpu"] = KernelBenchContext.GpuName(),
                ["suite"] = bench.Name,
                ["device_copy_tb_per_s"] = context.CopyBytesPerSecond() / 1e12,
                ["results"] = results,
            };
            bench.Summarize(context, results, report);
            var json = JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true });
            Console.WriteLine(json);
            if (p.GetValue(output) is { } path) File.WriteAllText(path, json);
            return 0;
        });
        return cmd;
    }

    private static IEnumerable<(int N, int K)> ParseShapes(string s) => s.Split(',').Select(x =>
    {
        var p = x.Split('x');
        if (p.Length != 2 || !int.TryParse(p[0], out var n) || !int.TryParse(p[1], out var k) || n <= 0 || k <= 0)
            throw new ArgumentException($"--shapes: '{x}' is not N×K (for example 4096x4096).");
        return (n, k);
    });
}
