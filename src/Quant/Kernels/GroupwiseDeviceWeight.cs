using InferenceServer.Engine.Kernels;
using InferenceServer.Engine.Loading;
using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Quant.Kernels;

/// <summary>
/// A <see cref="GroupwiseWeight"/> on a CUDA device for the native group-wise GEMMs: the packed int32 words [N, K·b/32]
/// exactly as on the host, float32 scales [N, K/G], and uint8 zero points [N, K/G] (null when symmetric: the kernels
/// then use 2^(b−1)). No dequantized copy of the weights is kept.
/// </summary>
public sealed class GroupwiseDeviceWeight : IDisposable
{
    /// <summary>The smallest group size the CUDA kernels take (each lane's 16-byte piece of codes lies in one group).</summary>
    public const int GroupMultiple = 32;

    public int Bits { get; }
    public int GroupSize { get; }
    public int OutFeatures { get; }
    public int InFeatures { get; }
    public bool Symmetric => Zeros is null;
    public Tensor Packed { get; }
    public Tensor Scales { get; }
    public Tensor? Zeros { get; }
    public NativeKernels Kernels { get; }

    private GroupwiseDeviceWeight(int bits, int groupSize, int n, int k, Tensor packed, Tensor scales, Tensor? zeros, NativeKernels kernels)
    {
        Bits = bits;
        GroupSize = groupSize;
        OutFeatures = n;
        InFeatures = k;
        Packed = packed;
        Scales = scales;
        Zeros = zeros;
        Kernels = kernels;
    }

    /// <summary>The kernels, or a load error naming the native library and the group-size rule.</summary>
    public static NativeKernels Require(NativeKernels? kernels, int groupSize, string layer)
    {
        if (kernels is null)
        {
            var why = NativeKernels.TryGet(out var reason) is null
                ? reason
                : $"it loaded, but this model does not use it: native kernels switched off, or head size outside what its attention kernels take (a multiple of 8, at most {NativeKernels.MaxHeadDim})";
            throw new ModelLoadException($"{layer}: group-wise (zeroquant / pack-quantized) layers on CUDA need the native kernel library {NativeKernels.FileName} ({why}); build src/Kernels or use --device cpu.");
        }
        if (groupSize % GroupMultiple != 0)
            throw new ModelLoadException($"{layer}: group size {groupSize} is not a multiple of {GroupMultiple}, which the CUDA group-wise kernels need; use --group-size 32, 64, 128 or 256, or --device cpu.");
        return kernels;
    }

    /// <summary>Copies the host weight's words, scales and zero points to <paramref name="device"/> once.</summary>
    public static GroupwiseDeviceWeight Upload(GroupwiseWeight w, Device device, NativeKernels kernels)
    {
        static Tensor Copy(Tensor host, Device device)
        {
            using (host) return host.to(device);
        }
        var packed = Copy(tensor(w.Packed, [w.OutFeatures, w.WordsPerRow]), device);
        var scales = Copy(tensor(w.Scales, [w.OutFeatures, w.Groups]), device);
        var zeros = w.Symmetric ? null : Copy(tensor(w.Zeros, [w.OutFeatures, w.Groups], ScalarType.Byte), device);
        return new GroupwiseDeviceWeight(w.Bits, w.GroupSize, w.OutFeatures, w.InFeatures, packed, scales, zeros, kernels);
    }

    /// <summary>
    /// Random codes made on the device (for <c>--load-format dummy</c>; never a float weight), scales giving w of about
    /// 0.02, zero points 2^(b−1) when asymmetric.
    /// </summary>
    public static GroupwiseDeviceWeight Random(int bits, int groupSize, int n, int k, bool symmetric, Device device, NativeKernels kernels)
    {
        var packed = randint(int.MinValue, int.MaxValue, [n, k / (32 / bits)], ScalarType.Int32, device);
        using Scalar scale = (0.02f / (1 << (bits - 2))).ToScalar(), zero = (1 << (bits - 1)).ToScalar();
        var scales = full([n, k / groupSize], scale, ScalarType.Float32, device);
        var zeros = symmetric ? null : full([n, k / groupSize], zero, ScalarType.Byte, device);
        return new GroupwiseDeviceWeight(bits, groupSize, n, k, packed, scales, zeros, kernels);
    }

    /// <summary>The weight back on the host (for writing a checkpoint).</summary>
    public GroupwiseWeight Download()
    {
        using var p = Packed.cpu();
        using var s = Scales.cpu();
        var zeros = new byte[(long)OutFeatures * (InFeatures / GroupSize)];
        if (Zeros is null) Array.Fill(zeros, (byte)(1 << (Bits - 1)));
        else
        {
            using var z = Zeros.cpu();
            z.data<byte>().CopyTo(zeros);
        }
        return new GroupwiseWeight(Bits, GroupSize, OutFeatures, InFeatures, Symmetric, p.data<int>().ToArray(), s.data<float>().ToArray(), zeros);
    }

    /// <summary>x [T, K] · dequant(W)ᵀ + bias in x's dtype (float16/bfloat16 through the kernels; float32 through a temporary dequantized W).</summary>
    public Tensor Forward16(Tensor x, Tensor? bias)
    {
        if (x.dtype is ScalarType.Float16 or ScalarType.BFloat16)
            return Kernels.GroupwiseGemm(UnitStrideRows(x), Packed, Scales, Zeros, bias, Bits, GroupSize);
        using var w = Kernels.GroupwiseDequantize(Packed, Scales, Zeros, Bits, GroupSize, x.dtype);
        return nn.functional.linear(x, w, bias);
    }

    /// <summary>silu(gate)·up [T, N/2] of <see cref="Forward16"/>'s [T, N] for W = [gate; up], from the kernel's epilogue for float16/bfloat16.</summary>
    public Tensor ForwardGated16(Tensor x, Tensor? bias)
    {
        if (x.dtype is ScalarType.Float16 or ScalarType.BFloat16)
            return Kernels.GroupwiseGemmGated(UnitStrideRows(x), Packed, Scales, Zeros, bias, Bits, GroupSize);
        using var gateUp = Forward16(x, bias);
        return Kernels.SiluMul(gateUp);
    }

    /// <summary>x [T, K] quantized to INT8 per token, then the A8 kernel; output in x's dtype.</summary>
    public Tensor Forward8(Tensor x, Tensor? bias)
    {
        var (q, s) = Kernels.QuantizeRows(UnitStrideRows(x), null);
        using (q)
        using (s)
            return Kernels.GroupwiseGemmA8(q, s, Packed, Scales, Zeros, bias, Bits, GroupSize, x.dtype);
    }

    /// <summary>x as the kernels take it: each row's elements adjacent (a row-strided view as it is, otherwise a copy).</summary>
    private static Tensor UnitStrideRows(Tensor x) => x.stride(1) == 1 ? x : x.contiguous();

    public void Dispose()
    {
        Packed.Dispose();
        Scales.Dispose();
        Zeros?.Dispose();
    }
}
