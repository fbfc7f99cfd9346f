using InferenceServer.Engine.Kernels;
using InferenceServer.Engine.Models.Quantization;
using InferenceServer.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Quant.Kernels;

/// <summary>
/// A ZeroQuant linear layer: group-wise 4- or 8-bit weights (<see cref="GroupwiseWeight"/>), activations
/// either kept in full precision (W4A16 / W8A16) or quantized to INT8 per token on the way in (W4A8 / W8A8, the same
/// <see cref="TokenwiseInt8"/> as SmoothQuant's W8A8). y = x · dequant(W)ᵀ (· s_x) + b, in the serving dtype.
/// </summary>
/// <remarks>
/// On the CPU, up to <see cref="DirectMaxRows"/> rows (decode steps) run <see cref="GroupwiseGemm"/> on the packed
/// codes. Longer inputs (prefill) dequantize W into a temporary [N, K] float32 buffer, freed after the call, and use
/// MKL's GEMM: the unpacking is then paid once per M ≥ 17 rows, and no full-precision copy of the weights stays
/// resident. On CUDA the packed words, scales and zero points are uploaded once (<see cref="GroupwiseDeviceWeight"/>)
/// and the native group-wise GEMMs run on them (A8: the rows are quantized to INT8 by the native kernel first).
/// </remarks>
public sealed partial class GroupwiseLinearKernel : IGatedMlpLinear
{
    public const int DirectMaxRows = 16;

    private GroupwiseWeight? _host;
    private readonly GroupwiseDeviceWeight? _device;

    /// <summary>The weight on the host (for a CUDA layer, downloaded on first use: only writing a checkpoint asks).</summary>
    public GroupwiseWeight Weight => _host ??= _device!.Download();
    /// <summary>The weight on the CUDA device, or null on the CPU.</summary>
    public GroupwiseDeviceWeight? DeviceWeight => _device;
    public int Bits { get; }
    public int GroupSize { get; }
    public bool Symmetric { get; }
    /// <summary>8: INT8 per-token activations; 16: activations in the serving dtype.</summary>
    public int ActivationBits { get; }
    /// <summary>[N] in the serving dtype, or null.</summary>
    public Tensor? Bias { get; }
    public int InFeatures { get; }
    public int OutFeatures { get; }
    /// <summary>Packed codes plus float32 scales, plus b-bit zero points when asymmetric (as <see cref="GroupwiseWeight.Bytes"/>).</summary>
    public long WeightBytes
    {
        get
        {
            long groups = (long)OutFeatures * (InFeatures / GroupSize);
            return (long)OutFeatures * InFeatures * Bits / 8 + 4 * groups + (Symmetric ? 0 : (groups * Bits + 7) / 8);
        }
    }

    /// <summary>A CPU layer, or (with <paramref name="device"/> CUDA) one uploaded to the device for the native kernels.</summary>
    /// <param name="kernels">The native kernels; required on CUDA (a load error names the library otherwise).</param>
    public GroupwiseLinearKernel(GroupwiseWeight weight, int activationBits, Tensor? bias, Device? device = null, NativeKernels? kernels = null, string layer = "layer")
        : this(weight.Bits, weight.GroupSize, weight.OutFeatures, weight.InFeatures, weight.Symmetric, activationBits, bias)
    {
        if (device is null || device.type == DeviceType.CPU)
        {
            if (bias is not null && bias.device.type != DeviceType.CPU)
                throw new ArgumentException("a CPU group-wise layer needs its bias on the CPU.");
            _host = weight;
        }
        else
            _device = GroupwiseDeviceWeight.Upload(weight, device, GroupwiseDeviceWeight.Require(kernels, weight.GroupSize, layer));
    }

    /// <summary>A CUDA layer over weights already on the device (takes ownership).</summary>
    public GroupwiseLinearKernel(GroupwiseDeviceWeight weight, int activationBits, Tensor? bias)
        : this(weight.Bits, weight.GroupSize, weight.OutFeatures, weight.InFeatures, weight.Symmetric, activationBits, bias) =>
        _device = weight;

    private GroupwiseLinearKernel(int bits, int groupSize, int n, int k, bool symmetric, int activationBits, Tensor? bias)
    {
        if (activationBits is not (8 or 16))
            throw new ArgumentException($"activations are 8-bit (per-token INT8) or 16-bit (unquantized), not {activationBits}.");
        Bits = bits;
        GroupSize = groupSize;
        OutFeatures = n;
        InFeatures = k;
        Symmetric = symmetric;
        ActivationBits = activationBits;
        Bias = bias;
    }

    /// <param name="x">[T, K] in the serving dtype, on the layer's device.</param>
    /// <returns>[T, N] in the serving dtype.</returns>
    public Tensor Forward(Tensor x)
    {
        if (_device is { } d) return ActivationBits == 8 ? d.Forward8(x, Bias) : d.Forward16(x, Bias);
        using var scope = NewDisposeScope();
        var xf = x.to(ScalarType.Float32).contiguous();
        var y = ActivationBits == 8 ? Scaled(xf, TokenwiseInt8.Scale(xf, null)) : Accumulate(xf);   // [T, N] float32
        if (Bias is not null) y = Scalars.Add(y, Bias.to(ScalarType.Float32));
        return y.to(x.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>W4A16 / W8A16 on CUDA over [gate; up] rows: the kernel stores silu(gate)·up.</summary>
    public bool ProducesActivation => _device is not null && ActivationBits == 16 && OutFeatures % 2 == 0;

    public ILinearKernel Activation => ProducesActivation
        ? _activation ??= new GatedActivation(this)
        : throw new InvalidOperationException("a gated activation needs a W4A16/W8A16 layer on CUDA with an even number of rows.");

    private GatedActivation? _activation;

    /// <summary>The layer as x → silu(gate)·up; the weights stay the layer's.</summary>
    private sealed class GatedActivation(GroupwiseLinearKernel layer) : ILinearKernel
    {
        public int InFeatures => layer.InFeatures;
        public int OutFeatures => layer.OutFeatures / 2;
        public long WeightBytes => layer.WeightBytes;
        public Tensor Forward(Tensor x) => layer._device!.ForwardGated16(x, layer.Bias);
        public void Dispose() { }
    }

    /// <summary>The A8 product on the CPU with the given per-token scales: Σ round(x / s_x)·W · s_x, float32 [T, N], no bias.</summary>
    /// <param name="xf">[T, K] float32.</param>
    /// <param name="sx">[T, 1] float32 activation scales.</param>
    private Tensor Scaled(Tensor xf, Tensor sx) => Accumulate(TokenwiseInt8.Apply(xf, sx)) * sx;

    /// <summary>xf [T, K] float32 · dequant(W)ᵀ on the CPU: float32 [T, N], no bias.</summary>
    private Tensor Accumulate(Tensor xf)
    {
        var weight = _host!;
        long t = xf.shape[0];
        if (t <= DirectMaxRows)
        {
            var a = new float[t * InFeatures];
            xf.data<float>().CopyTo(a);
            var c = new float[t * OutFeatures];
            GroupwiseGemm.Multiply(a, (int)t, weight, c);
            return tensor(c, [t, OutFeatures]);
        }
        var w = new float[(long)OutFeatures * InFeatures];
        GroupwiseGemm.Dequantize(weight, w);
        return nn.functional.linear(xf, tensor(w, [OutFeatures, InFeatures]));
    }

    public void Dispose()
    {
        Bias?.Dispose();
        _device?.Dispose();
    }
}
