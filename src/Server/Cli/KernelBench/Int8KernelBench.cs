using InferenceServer.Engine.Kernels;
using static TorchSharp.torch;

namespace InferenceServer.Server.Cli.KernelBench;

/// <summary>
/// The W8A8 suite: cuBLAS bf16 (TorchSharp's linear), the native bf16 skinny GEMM, and the W8A8 path (activation
/// quantization + INT8 GEMM with the dequantization in its epilogue), alone and behind the RMSNorm that feeds it.
/// </summary>
public sealed class Int8KernelBench : IKernelBenchSuite
{
    public string Name => "int8";
    public string Description => "cuBLAS bf16 against the native bf16 skinny GEMM and the W8A8 INT8 kernels";
    public string DefaultShapes => KernelBenchCommand.LlamaShapes;
    public string DefaultRows => "1,16,32,64,128,1024,4096";

    public Dictionary<string, object> BenchShape(KernelBenchContext context, int m, int n, int k)
    {
        var (timer, kernels, device) = (context.Timer, context.Kernels, context.Device);
        using var scope = NewDisposeScope();
        var x = randn([m, k], ScalarType.BFloat16, device);
        var norm = rand([k], ScalarType.BFloat16, device);
        var w = KernelBenchContext.Cycle(2L * n * k, () => randn([n, k], ScalarType.BFloat16, device).mul_(InferenceServer.Engine.Runtime.Scalars.InitStd));
        var wq = KernelBenchContext.Cycle(1L * n * k, () => randint(-127, 128, [n, k], ScalarType.Int8, device));
        var ws = rand([n], ScalarType.Float32, device).mul_(InferenceServer.Engine.Runtime.Scalars.Of(1e-3));
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

    public void Summarize(KernelBenchContext context, List<Dictionary<string, object>> results, Dictionary<string, object> report)
    {
        bool wgmma = context.Kernels.UseWgmma(true); // default on: the answer says whether it is available here
        report["large_m_int8_kernel"] = wgmma ? "wgmma (sm_90a)" : "mma.sync";
        report["geomean_int8_speedup_vs_cublas_bf16"] = KernelBenchContext.GeoMeans(results, "int8_speedup");
        report["geomean_fused_int8_speedup_vs_rmsnorm_cublas_bf16"] = KernelBenchContext.GeoMeans(results, "fused_int8_speedup");
    }
}
