using InferenceServer.Quant.Formats;
using InferenceServer.Engine.Models.Quantization;
using InferenceServer.Quant.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Quant.LutGemm;

/// <summary>
/// A linear layer in <see cref="BcqWeights"/> form. On the CPU the weights live in host arrays and every matmul is
/// the LUT-GEMM (<see cref="Kernels.LutGemm"/>): nothing is dequantized. On other devices the same packed tensors
/// live on the device and are dequantized by TorchSharp ops before a dense matmul (the dequantize-then-GEMM baseline;
/// a CUDA LUT-GEMM reading these tensors unchanged is the fast path still to come).
/// </summary>
public sealed class LutGemmLinearKernel : ILinearKernel
{
    private readonly BcqWeights? _host;
    private readonly BcqTensors? _device;
    private readonly Tensor? _bias;   // [N] serving dtype

    public int InFeatures { get; }
    public int OutFeatures { get; }
    public int Bits { get; }
    public int GroupSize { get; }
    public long WeightBytes => _host?.Bytes ?? _device!.Bytes;
    public Tensor? Bias => _bias;

    private LutGemmLinearKernel(BcqWeights? host, BcqTensors? device, Tensor? bias)
    {
        (_host, _device, _bias) = (host, device, bias);
        (OutFeatures, InFeatures, Bits, GroupSize) = host is not null
            ? (host.OutFeatures, host.InFeatures, host.Bits, host.GroupSize)
            : (device!.OutFeatures, device.InFeatures, device.Bits, device.GroupSize);
    }

    /// <summary>Packed weights already made on the host; moved to <paramref name="device"/> unless it is the CPU.</summary>
    public static LutGemmLinearKernel FromHost(BcqWeights weights, Tensor? bias, Device device) => device.type == DeviceType.CPU
        ? new LutGemmLinearKernel(weights, null, bias)
        : new LutGemmLinearKernel(null, BcqTensors.FromHost(weights, device), bias);

    /// <summary>Packed tensors (signs int32 [q, W, N], alpha [q, G, N], offset [G, N]); takes ownership of them.</summary>
    public static LutGemmLinearKernel FromTensors(Tensor signs, Tensor alpha, Tensor offset, int inFeatures, int groupSize, Tensor? bias)
    {
        var d = new BcqTensors(signs, alpha, offset, inFeatures, groupSize);
        if (signs.device.type != DeviceType.CPU) return new LutGemmLinearKernel(null, d, bias);
        using (d) return new LutGemmLinearKernel(d.ToHost(), null, bias);
    }

    /// <summary>The packed tensors on the CPU: signs int32 [q, W, N], alpha float32 [q, G, N], offset float32 [G, N].</summary>
    public (Tensor Signs, Tensor Alpha, Tensor Offset) PackedTensors() => _host is not null
        ? BcqTensors.TensorsOf(_host)
        : (_device!.Signs.cpu(), _device.Alpha.cpu(), _device.Offset.cpu());

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
            if (_bias is not null) y = y.add_(_bias.to(ScalarType.Float32));
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
