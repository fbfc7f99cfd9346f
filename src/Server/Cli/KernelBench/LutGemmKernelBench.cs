using InferenceServer.Engine.Kernels;
using InferenceServer.Engine.Runtime;
using static TorchSharp.torch;

namespace InferenceServer.Server.Cli.KernelBench;

/// <summary>
/// The LUT-GEMM suite: per shape and per q ∈ {3, 4} at group size 128, cuBLAS bf16 (TorchSharp's linear on a bf16
/// weight), the native LUT-GEMM as the engine runs it (the table kernel at one row, the streaming kernel at 2-32, above
/// that the Hopper tensor-core kernel or dequantize-then-cuBLAS), beside it the kernel it replaces (streaming at one
/// row, table at 2-16 rows, explicit tensor cores above 8), and the dequantize-then-GEMM baseline (the BCQ weights
/// written to a temporary bf16 [N, K], then cuBLAS). Bandwidth counts the packed bytes read (signs + α + offsets) and
/// is compared with the device-copy bandwidth in the summary. Weights are random in packed form, made on the device,
/// with float16 α and offsets as the engine uploads them for bf16 serving; the bf16 and packed copies cycle through
/// ≥ 256 MiB.
/// </summary>
public sealed class LutGemmKernelBench : IKernelBenchSuite
{
    /// <summary>OPT-175B's four linear layers, N×K: qkv, out_proj, fc1, fc2.</summary>
    public const string OptShapes = "36864x12288,12288x12288,49152x12288,12288x49152";
    public const int GroupSize = 128;
    private static readonly int[] Bits = [3, 4];

    public string Name => "lutgemm";
    public string Description => "cuBLAS bf16 against LUT-GEMM on 3- and 4-bit BCQ weights (g128) and the dequantize-then-GEMM baseline";
    public string DefaultShapes => KernelBenchCommand.LlamaShapes + "," + OptShapes;
    public string DefaultRows => "1,16,64,1024";

    public Dictionary<string, object> BenchShape(KernelBenchContext context, int m, int n, int k)
    {
        var (timer, kernels, device) = (context.Timer, context.Kernels, context.Device);
        var r = new Dictionary<string, object> { ["m"] = m, ["n"] = n, ["k"] = k };
        bool hopper = KernelBenchContext.IsHopper() && Environment.GetEnvironmentVariable("INFERENCE_LUTGEMM_SM90") != "0";
        var x = randn([m, k], ScalarType.BFloat16, device);
        double cublas;
        using (var scope = NewDisposeScope())
        {
            var w = KernelBenchContext.Cycle(2L * n * k, () => randn([n, k], ScalarType.BFloat16, device).mul_(Scalars.InitStd));
            cublas = timer.Microseconds(() => nn.functional.linear(x, w()));
        }
        r["cublas_bf16_us"] = cublas;
        r["cublas_bf16_weight_tb_per_s"] = 2.0 * n * k / cublas / 1e6;
        foreach (var q in Bits)
        {
            using var scope = NewDisposeScope();
            int words = (k + 31) / 32, groups = (k + GroupSize - 1) / GroupSize;
            long bytes = 4L * n * q * words + 2L * n * (q * groups + groups);   // int32 sign words, float16 α and offsets
            var packed = KernelBenchContext.Cycle(bytes, () => (
                Signs: randint(int.MinValue, int.MaxValue, [q, words, n], ScalarType.Int32, device),
                Alpha: rand([q, groups, n], ScalarType.Float16, device).mul_(Scalars.InitStd),
                Offset: randn([groups, n], ScalarType.Float16, device).mul_(Scalars.Of(0.002))));
            double lut = timer.Microseconds(() =>
            {
                var p = packed();
                return kernels.LutGemm(x, p.Signs, p.Alpha, p.Offset, null, GroupSize);
            });
            double dequant = timer.Microseconds(() =>
            {
                using var inner = NewDisposeScope();
                var p = packed();
                var w = kernels.BcqDequantize(p.Signs, p.Alpha, p.Offset, k, GroupSize, ScalarType.BFloat16);
                return nn.functional.linear(x, w).MoveToOuterDisposeScope();
            });
            r[$"q{q}_packed_bytes"] = bytes;
            bool stream = NativeKernels.LutGemmAutoStream && m >= NativeKernels.LutGemmMinStreamRows && m <= NativeKernels.LutGemmMaxStreamRows
                && NativeKernels.LutGemmStreamTakes(n, k, GroupSize);
            r[$"q{q}_lut_kernel"] = stream ? "stream"
                : m <= NativeKernels.LutGemmMaxTableRows ? "table"
                : m <= NativeKernels.LutGemmMaxSm90Rows && hopper ? "tensor_core_sm90" : "dequantize_cublas";
            r[$"q{q}_lut_us"] = lut;
            r[$"q{q}_dequant_gemm_us"] = dequant;
            r[$"q{q}_lut_speedup_vs_cublas_bf16"] = cublas / lut;
            r[$"q{q}_lut_speedup_vs_dequant_gemm"] = dequant / lut;
            r[$"q{q}_lut_tb_per_s"] = bytes / lut / 1e6;
            if (m > NativeKernels.LutGemmMaxTableRows)
            {
                // The explicit tensor-core kernel beside the automatic choice (the Hopper one on Hopper, else mma.sync).
                r[$"q{q}_tensor_core_kernel_us"] = timer.Microseconds(() =>
                {
                    var p = packed();
                    return kernels.LutGemm(x, p.Signs, p.Alpha, p.Offset, null, GroupSize, NativeKernels.LutGemmKernel.TensorCore);
                });
            }
            if (!stream && m <= NativeKernels.LutGemmMaxTableRows)
            {
                // The streaming kernel beside the table kernel where the automatic choice takes the table.
                r[$"q{q}_stream_kernel_us"] = timer.Microseconds(() =>
                {
                    var p = packed();
                    return kernels.LutGemm(x, p.Signs, p.Alpha, p.Offset, null, GroupSize, NativeKernels.LutGemmKernel.Stream);
                });
            }
            if (stream && m <= 2 * NativeKernels.LutGemmMaxTableRows)
            {
                // The table kernel beside the streaming kernel where it is plausible (up to two launches of 8 rows).
                double table = timer.Microseconds(() =>
                {
                    var p = packed();
                    return kernels.LutGemm(x, p.Signs, p.Alpha, p.Offset, null, GroupSize, NativeKernels.LutGemmKernel.Table);
                });
                r[$"q{q}_table_kernel_us"] = table;
            }
        }
        x.Dispose();
        return r;
    }

    public void Summarize(KernelBenchContext context, List<Dictionary<string, object>> results, Dictionary<string, object> report)
    {
        double copy = context.CopyBytesPerSecond() / 1e12;
        foreach (var r in results)
            foreach (var q in Bits)
                if (r.TryGetValue($"q{q}_lut_tb_per_s", out var tb)) r[$"q{q}_lut_fraction_of_copy_bandwidth"] = Convert.ToDouble(tb) / copy;
        report["group_size"] = GroupSize;
        report["lutgemm_bandwidth_counts"] = "packed signs + alpha + offsets read, per call; the copy bandwidth counts bytes read plus written";
        foreach (var q in Bits)
        {
            report[$"geomean_q{q}_lut_speedup_vs_cublas_bf16"] = KernelBenchContext.GeoMeans(results, $"q{q}_lut_speedup_vs_cublas_bf16");
            report[$"geomean_q{q}_lut_speedup_vs_dequant_gemm"] = KernelBenchContext.GeoMeans(results, $"q{q}_lut_speedup_vs_dequant_gemm");
            report[$"geomean_q{q}_lut_fraction_of_copy_bandwidth"] = KernelBenchContext.GeoMeans(results, $"q{q}_lut_fraction_of_copy_bandwidth");
            foreach (var (label, shapes) in new[] { ("llama3_8b", KernelBenchCommand.LlamaShapes), ("opt_175b", OptShapes) })
            {
                var set = shapes.Split(',').ToHashSet();
                var subset = results.Where(r => set.Contains($"{r["n"]}x{r["k"]}")).ToList();
                if (subset.Count == 0) continue;
                report[$"geomean_q{q}_{label}_lut_speedup_vs_cublas_bf16"] = KernelBenchContext.GeoMeans(subset, $"q{q}_lut_speedup_vs_cublas_bf16");
                report[$"geomean_q{q}_{label}_lut_speedup_vs_dequant_gemm"] = KernelBenchContext.GeoMeans(subset, $"q{q}_lut_speedup_vs_dequant_gemm");
            }
        }
    }
}
