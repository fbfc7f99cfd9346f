using InferenceServer.Quant.Kernels;
using static TorchSharp.torch;

namespace InferenceServer.Server.Cli.KernelBench;

/// <summary>
/// The ZeroQuant suite: cuBLAS bf16 (TorchSharp's linear) against the native group-wise GEMMs on asymmetric g128
/// weights (ZeroQuant's default): W4A16 and W8A16 (the streaming kernel up to 128 rows, dequantize + cuBLAS above),
/// W4A16 through dequantize + cuBLAS at every M (where that path should take over), and W4A8 with the activation
/// quantization included. Bandwidth counts what the kernel must read of the weight: packed
/// codes, float32 scales and uint8 zero points.
/// </summary>
public sealed class GroupwiseKernelBench : IKernelBenchSuite
{
    private const int Group = 128;

    public string Name => "zeroquant";
    public string Description => "cuBLAS bf16 against the group-wise W4A16, W8A16 and W4A8 kernels (asymmetric, g128)";
    public string DefaultShapes => KernelBenchCommand.LlamaShapes;
    public string DefaultRows => "1,8,16,64,1024,4096";

    /// <summary>Bytes of packed codes, float32 scales and uint8 zero points of an N×K weight.</summary>
    public static long WeightBytes(int n, int k, int bits) => (long)n * k * bits / 8 + 5L * n * (k / Group);

    public Dictionary<string, object> BenchShape(KernelBenchContext context, int m, int n, int k)
    {
        var (timer, kernels, device) = (context.Timer, context.Kernels, context.Device);
        using var scope = NewDisposeScope();
        var x = randn([m, k], ScalarType.BFloat16, device);
        var w = KernelBenchContext.Cycle(2L * n * k, () => randn([n, k], ScalarType.BFloat16, device).mul_(InferenceServer.Engine.Runtime.Scalars.InitStd));
        var w4 = KernelBenchContext.Cycle(WeightBytes(n, k, 4), () => GroupwiseDeviceWeight.Random(4, Group, n, k, false, device, kernels));
        var w8 = KernelBenchContext.Cycle(WeightBytes(n, k, 8), () => GroupwiseDeviceWeight.Random(8, Group, n, k, false, device, kernels));
        double cublas = timer.Microseconds(() => nn.functional.linear(x, w()));
        double w4a16 = timer.Microseconds(() => w4().Forward16(x, null));
        double w8a16 = timer.Microseconds(() => w8().Forward16(x, null));
        double w4a8 = timer.Microseconds(() => w4().Forward8(x, null));
        // The prefill path at every M (W dequantized into a temporary, then cuBLAS), for the row count where it takes
        // over from the streaming kernel.
        double w4Dequant = timer.Microseconds(() =>
        {
            using var inner = NewDisposeScope();
            var d = w4();
            var dense = kernels.GroupwiseDequantize(d.Packed, d.Scales, d.Zeros, 4, Group, ScalarType.BFloat16);
            return nn.functional.linear(x, dense).MoveToOuterDisposeScope();
        });
        return new Dictionary<string, object>
        {
            ["m"] = m, ["n"] = n, ["k"] = k,
            ["cublas_bf16_us"] = cublas,
            ["w4a16_us"] = w4a16,
            ["w8a16_us"] = w8a16,
            ["w4a8_with_act_quant_us"] = w4a8,
            ["w4a16_speedup"] = cublas / w4a16,
            ["w8a16_speedup"] = cublas / w8a16,
            ["w4a8_speedup"] = cublas / w4a8,
            ["w4a16_dequant_gemm_us"] = w4Dequant,
            ["w4a16_dequant_gemm_speedup"] = cublas / w4Dequant,
            ["cublas_bf16_weight_tb_per_s"] = 2.0 * n * k / cublas / 1e6,
            ["w4a16_weight_tb_per_s"] = WeightBytes(n, k, 4) / w4a16 / 1e6,
            ["w8a16_weight_tb_per_s"] = WeightBytes(n, k, 8) / w8a16 / 1e6,
            ["w4a8_weight_tb_per_s"] = WeightBytes(n, k, 4) / w4a8 / 1e6,
            ["cublas_bf16_tflops"] = 2.0 * m * n * k / cublas / 1e6,
            ["w4a16_tflops"] = 2.0 * m * n * k / w4a16 / 1e6,
        };
    }

    public void Summarize(KernelBenchContext context, List<Dictionary<string, object>> results, Dictionary<string, object> report)
    {
        // Achieved weight bandwidth as a fraction of the device copy's (bytes read + written per second).
        double copy = Convert.ToDouble(report["device_copy_tb_per_s"]);
        foreach (var r in results)
            foreach (var kernel in new[] { "w4a16", "w8a16", "w4a8", "cublas_bf16" })
                r[$"{kernel}_fraction_of_copy_bandwidth"] = Convert.ToDouble(r[$"{kernel}_weight_tb_per_s"]) / copy;
        report["group_size"] = Group;
        report["geomean_w4a16_speedup_vs_cublas_bf16"] = KernelBenchContext.GeoMeans(results, "w4a16_speedup");
        report["geomean_w8a16_speedup_vs_cublas_bf16"] = KernelBenchContext.GeoMeans(results, "w8a16_speedup");
        report["geomean_w4a8_speedup_vs_cublas_bf16"] = KernelBenchContext.GeoMeans(results, "w4a8_speedup");
        report["geomean_w4a16_dequant_gemm_speedup_vs_cublas_bf16"] = KernelBenchContext.GeoMeans(results, "w4a16_dequant_gemm_speedup");
        report["geomean_w4a16_fraction_of_copy_bandwidth"] = KernelBenchContext.GeoMeans(results, "w4a16_fraction_of_copy_bandwidth");
    }
}
