using static TorchSharp.torch;

namespace InferenceServer.Engine.Kernels;

/// <summary>
/// LUT-GEMM on binary-coded (BCQ) weights (csrc/lut_gemm.cu, csrc/api_lutgemm.cpp). The weights stay on the device in
/// the packed layout of <c>InferenceServer.Quant.Formats.BcqWeights</c>: signs int32 [q, ceil(K/32), N], alpha
/// [q, ceil(K/G), N] and offset [ceil(K/G), N] both float32 or both float16; G a multiple of 32 and N a multiple of 4.
/// </summary>
public sealed unsafe partial class NativeKernels
{
    /// <summary>Rows the table kernel takes per launch; the automatic choice takes another path above this (16-bit dtypes).</summary>
    public const int LutGemmMaxTableRows = 8;

    /// <summary>Rows from which the automatic choice takes the streaming kernel (kBcqStreamMinRows in lut_gemm.h).</summary>
    public const int LutGemmMinStreamRows = 2;

    /// <summary>Rows up to which the automatic choice takes the streaming kernel (kBcqStreamMaxRows in lut_gemm.h).</summary>
    public const int LutGemmMaxStreamRows = 32;

    /// <summary>Whether the automatic choice may take the streaming kernel: unless INFERENCE_LUTGEMM_STREAM=0, read once as the native library does.</summary>
    public static readonly bool LutGemmAutoStream = Environment.GetEnvironmentVariable("INFERENCE_LUTGEMM_STREAM") != "0";

    /// <summary>Rows up to which the automatic choice takes the Hopper tensor-core kernel (kBcqSm90MaxRows in lut_gemm.h).</summary>
    public const int LutGemmMaxSm90Rows = 128;

    /// <summary>Which kernel <see cref="LutGemm"/> runs.</summary>
    public enum LutGemmKernel
    {
        /// <summary>
        /// In 16 bits, from <see cref="LutGemmMinStreamRows"/> to <see cref="LutGemmMaxStreamRows"/> rows the streaming
        /// kernel where <see cref="LutGemmStreamTakes"/> says so (INFERENCE_LUTGEMM_STREAM=0 turns that off). Else tables
        /// for M ≤ <see cref="LutGemmMaxTableRows"/> (and for float32); above, in 16 bits with K a multiple of 8, on
        /// Hopper up to <see cref="LutGemmMaxSm90Rows"/> rows the warpgroup-MMA kernel (INFERENCE_LUTGEMM_SM90=0 turns it
        /// off), else W dequantized into a temporary and multiplied by cuBLAS, which beats the mma.sync tensor-core
        /// kernel (docs/benchmarks/h200-lutgemm-kernels.json).
        /// </summary>
        Auto = 0,
        /// <summary>The table kernel for every M (8 rows per launch).</summary>
        Table = 1,
        /// <summary>
        /// BCQ tiles dequantized in shared memory feeding mma.sync (float16/bfloat16, K a multiple of 8); the Hopper
        /// warpgroup-MMA kernel instead on Hopper (unless INFERENCE_LUTGEMM_SM90=0).
        /// </summary>
        TensorCore = 2,
        /// <summary>
        /// Per bit-plane MMAs on ±1 fragments built from the sign words, α and the offset applied in float after them
        /// (any M; float16/bfloat16, G = 128·2^s, N a multiple of 8).
        /// </summary>
        Stream = 3,
    }

    private IntPtr _lutGemm, _bcqDequantize;

    /// <summary>Whether the CUDA kernels take this layer: group size a multiple of 32, N a multiple of 4.</summary>
    public static bool LutGemmTakes(int outFeatures, int groupSize) => groupSize % 32 == 0 && outFeatures % 4 == 0;

    /// <summary>Whether <see cref="LutGemmKernel.Stream"/> takes this layer (16-bit x): G = 128·2^s dividing K, N a multiple of 8.</summary>
    public static bool LutGemmStreamTakes(int outFeatures, int inFeatures, int groupSize) =>
        groupSize >= 128 && (groupSize & (groupSize - 1)) == 0 && inFeatures % groupSize == 0 && outFeatures % 8 == 0;

    /// <summary>y [M, N] = x [M, K] · Wᵀ + bias, W in BCQ form; y in x's dtype. x needs contiguous rows.</summary>
    public Tensor LutGemm(Tensor x, Tensor signs, Tensor alpha, Tensor offset, Tensor? bias, int groupSize, LutGemmKernel kernel = LutGemmKernel.Auto)
    {
        var f = (delegate* unmanaged<IntPtr, IntPtr, IntPtr, IntPtr, IntPtr, IntPtr, int, int, int>)Export(ref _lutGemm, "ik_lutgemm");
        var output = empty([x.shape[0], signs.shape[2]], x.dtype, x.device);
        Check(f(output.Handle, x.Handle, signs.Handle, alpha.Handle, offset.Handle, bias?.Handle ?? IntPtr.Zero, groupSize, (int)kernel), "lutgemm");
        return output;
    }

    /// <summary>The represented weights W [N, K] (Σ_i α·b + offset) in <paramref name="dtype"/>: the dequantize-then-GEMM baseline.</summary>
    public Tensor BcqDequantize(Tensor signs, Tensor alpha, Tensor offset, int inFeatures, int groupSize, ScalarType dtype)
    {
        var f = (delegate* unmanaged<IntPtr, IntPtr, IntPtr, IntPtr, int, int>)Export(ref _bcqDequantize, "ik_bcq_dequantize");
        var w = empty([signs.shape[2], inFeatures], dtype, signs.device);
        Check(f(w.Handle, signs.Handle, alpha.Handle, offset.Handle, groupSize), "bcq_dequantize");
        return w;
    }
}
