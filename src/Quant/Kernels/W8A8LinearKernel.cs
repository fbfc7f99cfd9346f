using InferenceServer.Engine.Models.Quantization;
using InferenceServer.Engine.Parallel;
using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Quant.Kernels;

/// <summary>
/// A W8A8 linear layer: weights INT8 symmetric per output channel, activations quantized to INT8 on the way in
/// (per token from their own abs-max, or with one calibrated per-tensor scale), an exact int32 GEMM, then
/// y[t, n] = acc[t, n] · sx[t] · sw[n] + b[n] in the serving dtype. On CUDA with the native library the GEMM is the
/// project's tensor-core kernel with that dequantization in its epilogue, and the producer of x may hand over INT8
/// directly (<see cref="IQuantizedInputLinear"/>). Under tensor parallelism it splits per output channel: a
/// column-parallel share keeps its rows' scales, a row-parallel share (<see cref="W8A8RowParallelShare"/>) keeps
/// every row's scale and reduces the activation abs-max and the integer accumulators over the ranks.
/// </summary>
public sealed class W8A8LinearKernel : IQuantizedInputLinear, IShardableLinearKernel
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
        using var step = (0.02 / 37.0).ToScalar();
        var scale = full([outFeatures], step, ScalarType.Float32, device);
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
        var xf = x.to(ScalarType.Float32).contiguous();
        var sx = ActScale(xf, null);
        return Dequantize(Accumulate(QuantizeActivations(xf, sx)), sx, x.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The activation scale: the calibrated one [1, 1], or each token's abs-max / 127 [T, 1]. With
    /// <paramref name="comm"/> (a row-parallel share) the abs-max is taken over every rank's columns, so it is the
    /// whole row's, exactly as on one device.
    /// </summary>
    /// <param name="xf">[T, K] float32.</param>
    internal Tensor ActScale(Tensor xf, ICommunicator? comm) => TokenwiseInt8.Scale(xf, _staticActScale, comm);

    /// <returns>[T, K] int8: round(x / sx) clamped to ±127.</returns>
    internal static Tensor QuantizeActivations(Tensor xf, Tensor sx) => TokenwiseInt8.Apply(xf, sx).to(ScalarType.Int8);

    /// <summary>The exact integer GEMM: [T, N] int32 on CPU (Int8Gemm); elsewhere float32 holding the same integers (exact up to 2^24).</summary>
    /// <param name="qx">[T, K] int8.</param>
    internal Tensor Accumulate(Tensor qx)
    {
        long t = qx.shape[0];
        if (_hostWeight is null)
            return nn.functional.linear(qx.to(ScalarType.Float32), _deviceWeight!.to(ScalarType.Float32));
        var a = new sbyte[t * InFeatures];
        qx.data<sbyte>().CopyTo(a);
        var c = new int[t * OutFeatures];
        Int8Gemm.Multiply(a, _hostWeight, c, (int)t, OutFeatures, InFeatures, bRowSums: _hostRowSums);
        return tensor(c, [t, OutFeatures]);
    }

    /// <summary>y = acc · sx · sw (+ b), in <paramref name="dtype"/>.</summary>
    /// <param name="acc">[T, N] integer accumulators.</param>
    /// <param name="sx">[T, 1] or [1, 1] activation scales.</param>
    internal Tensor Dequantize(Tensor acc, Tensor sx, ScalarType dtype)
    {
        var y = acc.to(ScalarType.Float32) * sx * _weightScale;
        if (_bias is not null) y = InferenceServer.Engine.Runtime.Scalars.Add(y, _bias.to(ScalarType.Float32));
        return y.to(dtype);
    }

    public ShardGranularity Granularity => ShardGranularity.Any;

    public ILinearKernel TakeRows(IReadOnlyList<(int Start, int Count)> ranges)
    {
        using var scope = NewDisposeScope();
        var q = LinearSharding.StackRows(QuantizedWeight(), ranges).to(_weightScale.device);
        return new W8A8LinearKernel(q.DetachFromDisposeScope(), LinearSharding.StackRows(_weightScale, ranges).DetachFromDisposeScope(),
            _bias is null ? null : LinearSharding.StackRows(_bias, ranges).DetachFromDisposeScope(), _staticActScale, _kernels);
    }

    public IRowParallelLinear TakeColumns(int start, int count)
    {
        using var scope = NewDisposeScope();
        var q = QuantizedWeight().narrow(1, start, count).contiguous().clone().to(_weightScale.device);
        // Every row's scale and the bias stay whole: they apply after the ranks' accumulators are summed.
        return new W8A8RowParallelShare(new W8A8LinearKernel(q.DetachFromDisposeScope(), _weightScale.clone().DetachFromDisposeScope(),
            _bias?.clone().DetachFromDisposeScope(), _staticActScale, _kernels));
    }

    public void Dispose()
    {
        _deviceWeight?.Dispose();
        _weightScale.Dispose();
        _bias?.Dispose();
    }
}
