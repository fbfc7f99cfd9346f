using static TorchSharp.torch;

namespace InferenceServer.Engine.Kernels;

/// <summary>
/// The group-wise (ZeroQuant, compressed-tensors pack-quantized) GEMMs of groupwise_gemm.cu. Weights: packed int32
/// codes [N, K·bits/32] (compressed-tensors' pack_to_int32 layout), float32 scales [N, K/G], uint8 zero points
/// [N, K/G] or null for symmetric (zero point 2^(bits−1)); G a multiple of 32.
/// </summary>
public sealed unsafe partial class NativeKernels
{
    private IntPtr _groupwiseGemm, _groupwiseGemmGated, _groupwiseGemmA8, _groupwiseDequantize;

    /// <summary>
    /// x [M, K] (float16/bfloat16) · dequant(W)ᵀ + bias → [M, N] in x's dtype. Up to 128 rows the packed weights are
    /// streamed and dequantized in registers; above, W is dequantized into a temporary and cuBLAS runs the GEMM.
    /// </summary>
    public Tensor GroupwiseGemm(Tensor x, Tensor packed, Tensor scales, Tensor? zeros, Tensor? bias, int bits, int groupSize)
    {
        var output = empty([x.shape[0], packed.shape[0]], x.dtype, x.device);
        var f = (delegate* unmanaged<IntPtr, IntPtr, IntPtr, IntPtr, IntPtr, IntPtr, int, int, int>)Export(ref _groupwiseGemm, "ik_groupwise_gemm");
        Check(f(output.Handle, x.Handle, packed.Handle, scales.Handle, zeros?.Handle ?? IntPtr.Zero, bias?.Handle ?? IntPtr.Zero, bits, groupSize), "groupwise_gemm");
        return output;
    }

    /// <summary>
    /// silu(x · dequant(gate)ᵀ + b_gate) · (x · dequant(up)ᵀ + b_up) → [M, I] for W = [gate; up] ([2I, K] codes, bias
    /// [2I] or null), x [M, K] float16/bfloat16: the gated MLP's gate/up projection and activation, bit-equal to
    /// <see cref="GroupwiseGemm"/> then <see cref="SiluMul"/>. On up to 16 rows the streaming kernel stores the
    /// activation from its epilogue, so the [M, 2I] projection is never written.
    /// </summary>
    public Tensor GroupwiseGemmGated(Tensor x, Tensor packed, Tensor scales, Tensor? zeros, Tensor? bias, int bits, int groupSize)
    {
        var output = empty([x.shape[0], packed.shape[0] / 2], x.dtype, x.device);
        var f = (delegate* unmanaged<IntPtr, IntPtr, IntPtr, IntPtr, IntPtr, IntPtr, int, int, int>)Export(ref _groupwiseGemmGated, "ik_groupwise_gemm_gated");
        Check(f(output.Handle, x.Handle, packed.Handle, scales.Handle, zeros?.Handle ?? IntPtr.Zero, bias?.Handle ?? IntPtr.Zero, bits, groupSize), "groupwise_gemm_gated");
        return output;
    }

    /// <summary>
    /// xScale[m] · Σ_g scales[n, g] · Σ_{k∈g} xq[m, k] · (code − zero) + bias → [M, N] in <paramref name="outDtype"/>:
    /// INT8 activations (from <see cref="QuantizeRows"/>) against the packed codes, exact int32 sums per group.
    /// </summary>
    public Tensor GroupwiseGemmA8(Tensor xq, Tensor xScale, Tensor packed, Tensor scales, Tensor? zeros, Tensor? bias, int bits, int groupSize, ScalarType outDtype)
    {
        var output = empty([xq.shape[0], packed.shape[0]], outDtype, xq.device);
        var f = (delegate* unmanaged<IntPtr, IntPtr, IntPtr, IntPtr, IntPtr, IntPtr, IntPtr, int, int, int>)Export(ref _groupwiseGemmA8, "ik_groupwise_gemm_a8");
        Check(f(output.Handle, xq.Handle, xScale.Handle, packed.Handle, scales.Handle, zeros?.Handle ?? IntPtr.Zero, bias?.Handle ?? IntPtr.Zero, bits, groupSize), "groupwise_gemm_a8");
        return output;
    }

    /// <summary>W [N, K] = (code − zero) · scale in <paramref name="dtype"/> (float32, float16 or bfloat16), computed in float.</summary>
    public Tensor GroupwiseDequantize(Tensor packed, Tensor scales, Tensor? zeros, int bits, int groupSize, ScalarType dtype)
    {
        var output = empty([packed.shape[0], packed.shape[1] * (32 / bits)], dtype, packed.device);
        var f = (delegate* unmanaged<IntPtr, IntPtr, IntPtr, IntPtr, int, int, int>)Export(ref _groupwiseDequantize, "ik_groupwise_dequantize");
        Check(f(output.Handle, packed.Handle, scales.Handle, zeros?.Handle ?? IntPtr.Zero, bits, groupSize), "groupwise_dequantize");
        return output;
    }
}
