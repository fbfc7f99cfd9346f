using InferenceServer.Quant.Formats;
using InferenceServer.Engine.Kernels;
using InferenceServer.Engine.Models.Quantization;
using InferenceServer.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Quant.LutGemm;

/// <summary>
/// A linear layer in <see cref="BcqWeights"/> form. On the CPU the weights live in host arrays and every matmul is
/// the LUT-GEMM (<see cref="Kernels.LutGemm"/>): nothing is dequantized. On CUDA with the native library the same
/// packed tensors live on the device (signs unchanged; α and offsets in float16 when serving in 16 bits) and
/// <see cref="NativeKernels.LutGemm"/> multiplies by them with its automatic choice
/// (<see cref="NativeKernels.LutGemmKernel.Auto"/>: the table kernel for one row, the streaming kernel up to 64); with
/// <see cref="LutGemmKernelChoice.Dequant"/> every call instead dequantizes to a temporary [N, K] weight and runs a
/// dense matmul (the paper's baseline, for comparisons).
/// Without the native library, or for shapes its kernels do not take (group size not a multiple of 32, N not a
/// multiple of 4), the weights are dequantized by TorchSharp ops before a dense matmul.
/// </summary>
public sealed partial class LutGemmLinearKernel : ILinearKernel
{
    private readonly BcqWeights? _host;
    private readonly BcqTensors? _device;
    private readonly Tensor? _bias;   // [N] serving dtype
    private readonly NativeKernels? _kernels;
    private readonly LutGemmKernelChoice _choice;

    public int InFeatures { get; }
    public int OutFeatures { get; }
    public int Bits { get; }
    public int GroupSize { get; }
    public long WeightBytes => _host?.Bytes ?? _device!.Bytes;
    public Tensor? Bias => _bias;

    /// <summary>Whether Forward runs the native CUDA kernels (false: host LUT-GEMM or TorchSharp dequantization).</summary>
    public bool UsesNativeKernels => _device is not null && _kernels is not null && _device.Signs.device.type == DeviceType.CUDA
        && NativeKernels.LutGemmTakes(OutFeatures, GroupSize);

    private LutGemmLinearKernel(BcqWeights? host, BcqTensors? device, Tensor? bias, NativeKernels? kernels, LutGemmKernelChoice choice,
        ScalarType servingDtype = ScalarType.Float32)
    {
        // The CUDA kernels read float16 scales when the activations are 16-bit: 12% fewer bytes per weight at q = 3.
        if (device is not null && kernels is not null && device.Signs.device.type == DeviceType.CUDA
            && NativeKernels.LutGemmTakes(device.OutFeatures, device.GroupSize) && servingDtype is ScalarType.BFloat16 or ScalarType.Float16)
            device = device.WithHalfScales();
        (_host, _device, _bias, _kernels, _choice) = (host, device, bias, kernels, choice);
        (OutFeatures, InFeatures, Bits, GroupSize) = host is not null
            ? (host.OutFeatures, host.InFeatures, host.Bits, host.GroupSize)
            : (device!.OutFeatures, device.InFeatures, device.Bits, device.GroupSize);
    }

    /// <summary>Packed weights already made on the host; uploaded once to <paramref name="device"/> unless it is the CPU.</summary>
    public static LutGemmLinearKernel FromHost(BcqWeights weights, Tensor? bias, Device device, NativeKernels? kernels = null,
        LutGemmKernelChoice choice = LutGemmKernelChoice.Lut, ScalarType servingDtype = ScalarType.Float32) => device.type == DeviceType.CPU
        ? new LutGemmLinearKernel(weights, null, bias, null, choice)
        : new LutGemmLinearKernel(null, BcqTensors.FromHost(weights, device), bias, kernels, choice, servingDtype);

    /// <summary>Packed tensors (signs int32 [q, W, N], alpha [q, G, N], offset [G, N]); takes ownership of them.</summary>
    public static LutGemmLinearKernel FromTensors(Tensor signs, Tensor alpha, Tensor offset, int inFeatures, int groupSize, Tensor? bias,
        NativeKernels? kernels = null, LutGemmKernelChoice choice = LutGemmKernelChoice.Lut, ScalarType servingDtype = ScalarType.Float32)
    {
        var d = new BcqTensors(signs, alpha, offset, inFeatures, groupSize);
        if (signs.device.type != DeviceType.CPU) return new LutGemmLinearKernel(null, d, bias, kernels, choice, servingDtype);
        using (d) return new LutGemmLinearKernel(d.ToHost(), null, bias, null, choice);
    }

    /// <summary>The packed tensors on the CPU: signs int32 [q, W, N], alpha float32 [q, G, N], offset float32 [G, N].</summary>
    public (Tensor Signs, Tensor Alpha, Tensor Offset) PackedTensors() => _host is not null
        ? BcqTensors.TensorsOf(_host)
        : (_device!.Signs.cpu(), _device.Alpha.cpu().to(ScalarType.Float32), _device.Offset.cpu().to(ScalarType.Float32));

    /// <param name="x">[T, K] in the serving dtype.</param>
    /// <returns>[T, N] in the serving dtype.</returns>
    public Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        Tensor y;
        if (_host is not null)
        {
            long t = x.shape[0];
            var a = new float[t * InFeatures];
            x.to(ScalarType.Float32).contiguous().data<float>().CopyTo(a);
            var c = new float[t * OutFeatures];
            Kernels.LutGemm.Multiply(a, _host, c, (int)t);
            y = tensor(c, [t, OutFeatures]);
            if (_bias is not null) y = Scalars.AddInPlace(y, _bias.to(ScalarType.Float32));
        }
        else if (UsesNativeKernels && x.device.type == DeviceType.CUDA)
        {
            var bias = _bias is null || _bias.dtype == x.dtype ? _bias : _bias.to(x.dtype);
            var d = _device!;
            if (_choice == LutGemmKernelChoice.Dequant)
            {
                var w = _kernels!.BcqDequantize(d.Signs, d.Alpha, d.Offset, InFeatures, GroupSize, x.dtype);   // [N, K]
                y = nn.functional.linear(x, w, bias);
            }
            else
            {
                y = _kernels!.LutGemm(x.stride(-1) == 1 ? x : x.contiguous(), d.Signs, d.Alpha, d.Offset, bias, GroupSize);
            }
        }
        else
        {
            var w = _device!.Dequantize(x.dtype);                                    // [N, K]
            y = nn.functional.linear(x, w, _bias);
        }
        return y.to(x.dtype).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        _device?.Dispose();
        _bias?.Dispose();
    }
}
