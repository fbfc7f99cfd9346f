using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using InferenceServer.Engine.Kernels;
using InferenceServer.Engine.Runtime;
using static TorchSharp.torch;

namespace InferenceServer.Server.Cli;

/// <summary>
/// <c>bench-kernels</c>: the linear-layer GEMMs side by side on one GPU in one run: cuBLAS bf16 (TorchSharp's
/// linear), the native bf16 skinny GEMM, and the W8A8 path (activation quantization + INT8 GEMM with the
/// dequantization in its epilogue). Each op is timed from a CUDA graph of many back-to-back calls, so launch
/// overhead does not count, and cycles through enough copies of the weights (≥ 256 MiB) that none is still in the
/// 50 MB L2 cache when it comes round again, as in a model whose weights are read once per step.
/// Prints one JSON object with times, ratios to cuBLAS bf16 and geometric means.
/// </summary>
public static class KernelBenchCommand
{
    private const string DefaultShapes = "6144x4096,4096x4096,28672x4096,4096x14336"; // Llama-3-8B qkv, o, gate_up, down (N×K)

    public static Command Create()
    {
        var libtorch = new Option<string?>("--libtorch") { Description = "Folder of a CUDA build of libtorch; also INFERENCE_LIBTORCH." };
        var shapes = new Option<string>("--shapes") { Description = "Weight shapes N×K, comma-separated (default: Llama-3-8B's four linears).", DefaultValueFactory = _ => DefaultShapes };
        var rows = new Option<string>("--m") { Description = "Activation rows (tokens) M, comma-separated.", DefaultValueFactory = _ => "1,16,32,64,128,1024,4096" };
        var iters = new Option<int>("--iters") { Description = "Calls per CUDA graph.", DefaultValueFactory = _ => 32 };
        var output = new Option<string?>("--output-json") { Description = "Also write the result to this file." };
        var cmd = new Command("bench-kernels", "Time the GEMMs of linear layers on CUDA: cuBLAS bf16 against the native bf16 and W8A8 INT8 kernels.");
        foreach (var o in new Option[] { libtorch, shapes, rows, iters, output }) cmd.Options.Add(o);
        cmd.SetAction(p =>
        {
            // "auto", not "cuda": no device was named, so the refusal below should not say one was asked for.
            var device = TorchRuntime.Initialize("auto", p.GetValue(libtorch), Console.Error.WriteLine);
            if (device.type != TorchSharp.DeviceType.CUDA)
                throw new InvalidOperationException("bench-kernels times CUDA kernels and found no usable CUDA device (the line above says why); pass --libtorch DIR with a CUDA build of libtorch on a machine with a GPU.");
            var kernels = NativeKernels.TryGet(out var why) ?? throw new InvalidOperationException($"bench-kernels needs the native library: {why}");
            var timer = new GraphTimer(kernels, p.GetValue(iters));
            bool wgmma = kernels.UseWgmma(true); // default on: the answer says whether it is available here
            var results = new List<Dictionary<string, object>>();
            foreach (var (n, k) in ParseShapes(p.GetValue(shapes)!))
                foreach (var m in p.GetValue(rows)!.Split(',').Select(int.Parse))
                {
                    var r = BenchShape(timer, kernels, device, m, n, k);
                    Console.Error.WriteLine($"M={m,5} N={n,5} K={k,5}: " + string.Join(", ", r.Where(kv => kv.Key.EndsWith("_us")).Select(kv => $"{kv.Key}={kv.Value:F1}")));
                    results.Add(r);
                }
            var report = new Dictionary<string, object>
            {
                ["gpu"] = GpuName(),
                ["large_m_int8_kernel"] = wgmma ? "wgmma (sm_90a)" : "mma.sync",
                ["results"] = results,
                ["geomean_int8_speedup_vs_cublas_bf16"] = GeoMeans(results, "int8_speedup"),
                ["geomean_fused_int8_speedup_vs_rmsnorm_cublas_bf16"] = GeoMeans(results, "fused_int8_speedup"),
            };
            var json = JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true });
            Console.WriteLine(json);
            if (p.GetValue(output) is { } path) File.WriteAllText(path, json);
            return 0;
        });
        return cmd;
    }

    private static Dictionary<string, object> BenchShape(GraphTimer timer, NativeKernels kernels, Device device, int m, int n, int k)
    {
        using var scope = NewDisposeScope();
        var x = randn([m, k], ScalarType.BFloat16, device);
        var norm = rand([k], ScalarType.BFloat16, device);
        var w = Cycle(2L * n * k, () => randn([n, k], ScalarType.BFloat16, device).mul_(InferenceServer.Engine.Runtime.Scalars.InitStd));
        var wq = Cycle(1L * n * k, () => randint(-127, 128, [n, k], ScalarType.Int8, device));
        var ws = rand([n], ScalarType.Float32, device).mul_(1e-3);
        var (xq, xs) = kernels.QuantizeRows(x, null);
        double flops = 2.0 * m * n * k;
        double cublas = timer.Microseconds(() => nn.functional.linear(x, w()));
        double int8Gemm = timer.Microseconds(() => kernels.Int8Gemm(xq, xs, wq(), ws, null, ScalarType.BFloat16));
        double int8Total = timer.Microseconds(() =>
        {
            using var inner = NewDisposeScope();
            var (q, s) = kernels.QuantizeRows(x, null);
            return kernels.Int8Gemm(q, s, wq(), ws, null, ScalarType.BFloat16).MoveToOuterDisposeScope();
        });
        // As in the model: the producer (RMSNorm) writes INT8 directly, against RMSNorm + cuBLAS bf16.
        double normCublas = timer.Microseconds(() =>
        {
            using var inner = NewDisposeScope();
            return nn.functional.linear(kernels.RmsNorm(x, norm, 1e-5), w()).MoveToOuterDisposeScope();
        });
        double normInt8 = timer.Microseconds(() =>
        {
            using var inner = NewDisposeScope();
            var (q, s) = kernels.RmsNormQuant(x, norm, 1e-5, null);
            return kernels.Int8Gemm(q, s, wq(), ws, null, ScalarType.BFloat16).MoveToOuterDisposeScope();
        });
        var r = new Dictionary<string, object>
        {
            ["m"] = m, ["n"] = n, ["k"] = k,
            ["cublas_bf16_us"] = cublas,
            ["int8_gemm_us"] = int8Gemm,
            ["int8_with_act_quant_us"] = int8Total,
            ["int8_speedup"] = cublas / int8Total,
            ["rmsnorm_cublas_bf16_us"] = normCublas,
            ["rmsnorm_quant_int8_us"] = normInt8,
            ["fused_int8_speedup"] = normCublas / normInt8,
            ["cublas_bf16_tflops"] = flops / cublas / 1e6,
            ["int8_tops"] = flops / int8Gemm / 1e6,
            ["cublas_bf16_weight_tb_per_s"] = 2.0 * n * k / cublas / 1e6,
            ["int8_weight_tb_per_s"] = 1.0 * n * k / int8Gemm / 1e6,
        };
        if (m > NativeKernels.Int8CublasLtMaxRows)
        {
            // The mma.sync kernel beside the default (wgmma on Hopper), for the record.
            bool before = kernels.UseWgmma(false);
            r["int8_gemm_mma_sync_us"] = timer.Microseconds(() => kernels.Int8Gemm(xq, xs, wq(), ws, null, ScalarType.BFloat16));
            kernels.UseWgmma(before);
        }
        else if (m <= NativeKernels.SkinnyMaxRows)
        {
            double skinny = timer.Microseconds(() => kernels.SkinnyLinear(x, w(), null));
            r["skinny_bf16_us"] = skinny;
            r["skinny_bf16_speedup"] = cublas / skinny;
            r["skinny_bf16_weight_tb_per_s"] = 2.0 * n * k / skinny / 1e6;
        }
        return r;
    }

    private static Dictionary<string, double> GeoMeans(List<Dictionary<string, object>> results, string key) => results
        .GroupBy(r => (int)r["m"]).ToDictionary(g => g.Key.ToString(), g => Math.Exp(g.Average(r => Math.Log((double)r[key]))));

    /// <summary>
    /// Enough copies of a weight to fill 256 MiB, handed out in turn: each call gets the next, so by the time one
    /// comes round again it has left the L2 cache.
    /// </summary>
    private static Func<Tensor> Cycle(long bytes, Func<Tensor> make)
    {
        var copies = Enumerable.Range(0, (int)Math.Max(1, (256L << 20) / bytes + 1)).Select(_ => make()).ToArray();
        int next = 0;
        return () => copies[next++ % copies.Length];
    }

    private static IEnumerable<(int N, int K)> ParseShapes(string s) => s.Split(',').Select(x =>
    {
        var p = x.Split('x');
        return (int.Parse(p[0]), int.Parse(p[1]));
    });

    private static string GpuName()
    {
        try
        {
            var psi = new ProcessStartInfo("nvidia-smi", "--query-gpu=name --format=csv,noheader") { RedirectStandardOutput = true };
            using var proc = Process.Start(psi)!;
            return proc.StandardOutput.ReadToEnd().Trim();
        }
        catch (Exception)
        {
            return "unknown";
        }
    }

    /// <summary>Times an op as the mean over replays of a CUDA graph holding <c>iters</c> back-to-back calls.</summary>
    private sealed class GraphTimer(NativeKernels kernels, int iters)
    {
        public double Microseconds(Func<Tensor> op)
        {
            op().Dispose(); // warm-up outside the capture (lazy initialisation, cuBLAS handles)
            var graph = kernels.GraphNew();
            try
            {
                kernels.GraphCaptureBegin(graph, IntPtr.Zero);
                try
                {
                    for (int i = 0; i < iters; i++) op().Dispose();
                }
                finally
                {
                    kernels.GraphCaptureEnd(graph);
                }
                kernels.GraphReplay(graph);
                cuda.synchronize();
                const int replays = 10;
                var sw = Stopwatch.StartNew();
                for (int i = 0; i < replays; i++) kernels.GraphReplay(graph);
                cuda.synchronize();
                return sw.Elapsed.TotalMicroseconds / (replays * iters);
            }
            finally
            {
                kernels.GraphDelete(graph);
            }
        }
    }
}
