using InferenceServer.Engine.Models.Quantization;
using InferenceServer.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Quant.Kernels;

/// <summary>
/// A ZeroQuant linear layer on the CPU: group-wise 4- or 8-bit weights (<see cref="GroupwiseWeight"/>), activations
/// either kept in full precision (W4A16 / W8A16) or quantized to INT8 per token on the way in (W4A8 / W8A8, the same
/// <see cref="TokenwiseInt8"/> as SmoothQuant's W8A8). y = x · dequant(W)ᵀ (· s_x) + b, in the serving dtype.
/// </summary>
/// <remarks>
/// Up to <see cref="DirectMaxRows"/> rows (decode steps) run <see cref="GroupwiseGemm"/> on the packed codes. Longer
/// inputs (prefill) dequantize W into a temporary [N, K] float32 buffer, freed after the call, and use MKL's GEMM:
/// the unpacking is then paid once per M ≥ 17 rows, and no full-precision copy of the weights stays resident. A
/// CUDA kernel would take the same packed words, scales and zero points, uploaded once.
/// </remarks>
public sealed class GroupwiseLinearKernel : ILinearKernel
{
    public const int DirectMaxRows = 16;

    public GroupwiseWeight Weight { get; }
    /// <summary>8: INT8 per-token activations; 16: activations in the serving dtype.</summary>
    public int ActivationBits { get; }
    /// <summary>[N] in the serving dtype, or null.</summary>
    public Tensor? Bias { get; }
    public int InFeatures => Weight.InFeatures;
    public int OutFeatures => Weight.OutFeatures;
    public long WeightBytes => Weight.Bytes;

    public GroupwiseLinearKernel(GroupwiseWeight weight, int activationBits, Tensor? bias)
    {
        if (activationBits is not (8 or 16))
            throw new ArgumentException($"activations are 8-bit (per-token INT8) or 16-bit (unquantized), not {activationBits}.");
        if (bias is not null && bias.device.type != DeviceType.CPU)
            throw new NotSupportedException("group-wise kernels run on the CPU only (the CUDA kernel is not built yet).");
        Weight = weight;
        ActivationBits = activationBits;
        Bias = bias;
    }

    /// <param name="x">[T, K] in the serving dtype, on the CPU.</param>
    /// <returns>[T, N] in the serving dtype.</returns>
    public Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long t = x.shape[0];
        var xf = x.to(ScalarType.Float32).contiguous();
        Tensor? sx = null;
        if (ActivationBits == 8) (xf, sx) = TokenwiseInt8.Quantize(xf);               // integers [T, K], scales [T, 1]
        Tensor y;                                                                     // [T, N] float32
        if (t <= DirectMaxRows)
        {
            var a = new float[t * InFeatures];
            xf.data<float>().CopyTo(a);
            var c = new float[t * OutFeatures];
            GroupwiseGemm.Multiply(a, (int)t, Weight, c);
            y = tensor(c, [t, OutFeatures]);
        }
        else
        {
            var w = new float[(long)OutFeatures * InFeatures];
            GroupwiseGemm.Dequantize(Weight, w);
            y = nn.functional.linear(xf, tensor(w, [OutFeatures, InFeatures]));
        }
        if (sx is not null) y = y * sx;
        if (Bias is not null) y = Scalars.Add(y, Bias.to(ScalarType.Float32));
        return y.to(x.dtype).MoveToOuterDisposeScope();
    }

    public void Dispose() => Bias?.Dispose();
}
