using InferenceServer.Engine.Models.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Quant.Kernels;

/// <summary>
/// A W8A8 linear layer: weights INT8 symmetric per output channel, activations quantized to INT8 on the way in
/// (per token from their own abs-max, or with one calibrated per-tensor scale), an exact int32 GEMM, then
/// y[t, n] = acc[t, n] · sx[t] · sw[n] + b[n] in the serving dtype. On CUDA with the native library the GEMM is the
/// project's tensor-core kernel with that dequantization in its epilogue, and the producer of x may hand over INT8
/// directly (<see cref="IQuantizedInputLinear"/>).
/// </summary>
public sealed class W8A8LinearKernel : IQuantizedInputLinear
{
    private readonly InferenceServer.Engine.Kernels.NativeKernels? _kernels;
    private readonly sbyte[]? _hostWeight;  // [N, K] row-major, on CPU devices (what Int8Gemm reads)
    private readonly int[]? _hostRowSums;   // [N] Σ_k of each weight row, for Int8Gemm's VNNI path
    private readonly Tensor? _deviceWeight; // [N, K] int8, on other devices
    private readonly Tensor _weightScale;   // [N] float32
    private readonly Tensor? _bias;         // [N] serving dtype

    // Static, so no temporary Scalar can be finalized while an op reads it (see Engine.Runtime.Scalars).
    private static readonly Scalar Levels = 127.0.ToScalar(), MinLevel = (-127.0).ToScalar();
    private static readonly Scalar MinWeightAbsMax = 1e-5.ToScalar();
    private readonly float? _staticActScale;

    public int InFeatures { get; }
    public int OutFeatures { get; }
    /// <summary>INT8 values plus one float32 scale per output channel.</summary>
    public long WeightBytes => (long)OutFeatures * InFeatures + 4L * OutFeatures;
    /// <summary>The calibrated per-tensor activation scale, or null for per-token dynamic scales.</summary>
    public float? StaticActScale => _staticActScale;

    private W8A8LinearKernel(Tensor qweight, Tensor weightScale, Tensor? bias, float? staticActScale, InferenceServer.Engine.Kernels.NativeKernels? kernels)
    {
        _kernels = qweight.device.type == DeviceType.CUDA ? kernels : null;
        OutFeatures = (int)qweight.shape[0];
        InFeatures = (int)qweight.shape[1];
        _weightScale = weightScale;
        _bias = bias;
        _staticActScale = staticActScale;
        if (qweight.device.type == DeviceType.CPU)
        {
            _hostWeight = new sbyte[qweight.numel()];
            qweight.data<sbyte>().CopyTo(_hostWeight);
            qweight.Dispose();
            _hostRowSums = Int8Gemm.RowSums(_hostWeight, OutFeatures, InFeatures);
        }
        else
        {
            _deviceWeight = qweight;
        }
    }

    /// <summary>Quantizes W [N, K] per output channel; takes ownership of <paramref name="weight"/> and <paramref name="bias"/>.</summary>
    /// <param name="staticActScale">Per-tensor activation scale (abs-max / 127), or null for dynamic per-token scales.</param>
    /// <param name="kernels">The native CUDA kernels, or null for the portable path.</param>
    public static W8A8LinearKernel Quantize(Tensor weight, Tensor? bias, float? staticActScale = null, InferenceServer.Engine.Kernels.NativeKernels? kernels = null)
    {
        using var scope = NewDisposeScope();
        var w = weight.to(ScalarType.Float32);
        var scale = w.abs().amax([1L], keepdim: true).clamp_min(MinWeightAbsMax).div(Levels);       // [N, 1]
        var q = (w / scale).round_().clamp_(MinLevel, Levels).to(ScalarType.Int8);         // [N, K]
        var kernel = new W8A8LinearKernel(q.DetachFromDisposeScope(), scale.squeeze(1).DetachFromDisposeScope(), bias, staticActScale, kernels);
        if (!ReferenceEquals(w, weight)) weight.Dispose();
        return kernel;
    }

    /// <summary>
    /// A layer already quantized elsewhere (a prequantized checkpoint): qweight [N, K] int8, weightScale [N] float32;
    /// takes ownership of the tensors.
    /// </summary>
    public static W8A8LinearKernel FromQuantized(Tensor qweight, Tensor weightScale, Tensor? bias, float? staticActScale, InferenceServer.Engine.Kernels.NativeKernels? kernels) =>
        new(qweight, weightScale, bias, staticActScale, kernels);

    /// <summary>A copy of the INT8 weights [N, K] on the CPU (for writing a prequantized checkpoint).</summary>
    public Tensor QuantizedWeight() => _hostWeight is not null
        ? tensor(_hostWeight, [OutFeatures, InFeatures])
        : _deviceWeight!.cpu();

    /// <summary>Per-output-channel weight scales [N] float32: W ≈ qweight · scale.</summary>
    public Tensor WeightScale => _weightScale;

    /// <summary>The bias [N] in the serving dtype, if the layer has one.</summary>
    public Tensor? Bias => _bias;

    /// <summary>
    /// Random INT8 weights made directly in INT8 (for <c>--load-format dummy</c>): never materialises a float copy, so a
    /// 70B-shape model fits where its bf16 weights would not. Values uniform in [-64, 64] with scales giving w ≈ N(0, 0.02).
    /// </summary>
    public static W8A8LinearKernel Random(int outFeatures, int inFeatures, Tensor? bias, float? staticActScale, Device device, InferenceServer.Engine.Kernels.NativeKernels? kernels)
    {
        var q = randint(-64, 65, [outFeatures, inFeatures], ScalarType.Int8, device);
        var scale = full([outFeatures], 0.02 / 37.0, ScalarType.Float32, device);
        return new W8A8LinearKernel(q, scale, bias, staticActScale, kernels);
    }

    public bool AcceptsQuantizedInput => _kernels is not null;

    /// <inheritdoc/>
    public Tensor ForwardQuantized(Tensor xq, Tensor xScale, ScalarType outDtype) =>
        _kernels!.Int8Gemm(xq, xScale, _deviceWeight!, _weightScale, _bias, outDtype);

    /// <param name="x">[T, K] in the serving dtype.</param>
    /// <returns>[T, N] in the serving dtype.</returns>
    public Tensor Forward(Tensor x)
    {
        if (_kernels is not null)
            return this.ForwardQuantized(_kernels.QuantizeRows(x.stride(1) == 1 ? x : x.contiguous(), _staticActScale), x.dtype);
        using var scope = NewDisposeScope();
        long t = x.shape[0];
        var xf = x.to(ScalarType.Float32).contiguous();
        var (qf, sx) = TokenwiseInt8.Quantize(xf, _staticActScale);                    // [T, K], [T, 1]
        var qx = qf.to(ScalarType.Int8);
        Tensor acc;                                                                      // [T, N] float32
        if (_hostWeight is not null)
        {
            var a = new sbyte[t * InFeatures];
            qx.data<sbyte>().CopyTo(a);
            var c = new int[t * OutFeatures];
            Int8Gemm.Multiply(a, _hostWeight, c, (int)t, OutFeatures, InFeatures, bRowSums: _hostRowSums);
            acc = tensor(c, [t, OutFeatures]).to(ScalarType.Float32);
        }
        else
        {
            // Off-CPU without the native library: the same integers through a float matmul (exact up to 2^24).
            acc = nn.functional.linear(qx.to(ScalarType.Float32), _deviceWeight!.to(ScalarType.Float32));
        }
        var y = acc * sx * _weightScale;
        if (_bias is not null) y = InferenceServer.Engine.Runtime.Scalars.Add(y, _bias.to(ScalarType.Float32));
        return y.to(x.dtype).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        _deviceWeight?.Dispose();
        _weightScale.Dispose();
        _bias?.Dispose();
    }
}
