using InferenceServer.Quant.Formats;
using System.Runtime.InteropServices;
using InferenceServer.Engine.Runtime;
using static TorchSharp.torch;

namespace InferenceServer.Quant.LutGemm;

/// <summary>
/// <see cref="BcqWeights"/> as tensors (any device, the same layout): signs int32 [q, W, N] (the uint32 words'
/// bits), alpha [q, G, N], offset [G, N], both float32 (the format) or both float16 (<see cref="WithHalfScales"/>, what
/// the CUDA kernels read when serving in 16 bits). Owns them.
/// </summary>
public sealed class BcqTensors : IDisposable
{
    public Tensor Signs { get; }
    public Tensor Alpha { get; }
    public Tensor Offset { get; }
    public int Bits { get; }
    public int OutFeatures { get; }
    public int InFeatures { get; }
    public int GroupSize { get; }
    public long Bytes => 4L * Signs.numel() + Alpha.element_size() * (Alpha.numel() + Offset.numel());

    public BcqTensors(Tensor signs, Tensor alpha, Tensor offset, int inFeatures, int groupSize)
    {
        if (signs.dim() != 3 || alpha.dim() != 3 || offset.dim() != 2)
            throw new ArgumentException($"BCQ tensors must be signs [q, W, N], alpha [q, G, N], offset [G, N] (got {Shape(signs)}, {Shape(alpha)}, {Shape(offset)}).");
        int bits = (int)signs.shape[0], n = (int)signs.shape[2];
        BcqWeights.Validate(n, inFeatures, bits, groupSize);
        long[] s = [bits, BcqWeights.WordsFor(inFeatures), n], a = [bits, BcqWeights.GroupsFor(inFeatures, groupSize), n], o = [a[1], n];
        if (!signs.shape.SequenceEqual(s) || !alpha.shape.SequenceEqual(a) || !offset.shape.SequenceEqual(o))
            throw new ArgumentException($"BCQ tensors for K = {inFeatures}, group {groupSize}: expected signs {Shape(s)}, alpha {Shape(a)}, offset {Shape(o)}; got {Shape(signs)}, {Shape(alpha)}, {Shape(offset)}.");
        if (signs.dtype != ScalarType.Int32 || alpha.dtype != offset.dtype || alpha.dtype is not (ScalarType.Float32 or ScalarType.Float16))
            throw new ArgumentException($"BCQ tensors must be int32 signs and float32 (or float16) alpha and offset (got {signs.dtype}, {alpha.dtype}, {offset.dtype}).");
        (Signs, Alpha, Offset, Bits, OutFeatures, InFeatures, GroupSize) = (signs, alpha, offset, bits, n, inFeatures, groupSize);
    }

    public static BcqTensors FromHost(BcqWeights w, Device device)
    {
        var (s, a, o) = TensorsOf(w);
        return new BcqTensors(s.to(device), a.to(device), o.to(device), w.InFeatures, w.GroupSize);
    }

    /// <summary>CPU tensors holding copies of the host arrays.</summary>
    public static (Tensor Signs, Tensor Alpha, Tensor Offset) TensorsOf(BcqWeights w) => (
        tensor(MemoryMarshal.Cast<uint, int>(w.Signs.AsSpan()).ToArray(), [w.Bits, w.Words, w.OutFeatures]),
        tensor(w.Alpha, [w.Bits, w.Groups, w.OutFeatures]),
        tensor(w.Offset, [w.Groups, w.OutFeatures]));

    /// <summary>
    /// The same tensors with alpha and offset rounded once to float16 (relative error ≤ 2^-11, below the bf16 rounding of
    /// the activations they multiply): a quarter of the packed bytes at q = 3, g = 128. Disposes this instance's scales.
    /// </summary>
    public BcqTensors WithHalfScales()
    {
        if (Alpha.dtype == ScalarType.Float16) return this;
        var result = new BcqTensors(Signs, Alpha.to(ScalarType.Float16), Offset.to(ScalarType.Float16), InFeatures, GroupSize);
        Alpha.Dispose();
        Offset.Dispose();
        return result;
    }

    public BcqWeights ToHost()
    {
        using var s = Signs.cpu().contiguous();
        using var a = Alpha.cpu().to(ScalarType.Float32).contiguous();
        using var o = Offset.cpu().to(ScalarType.Float32).contiguous();
        var signs = new uint[s.numel()];
        s.data<int>().CopyTo(MemoryMarshal.Cast<uint, int>(signs.AsSpan()));
        var alpha = new float[a.numel()];
        a.data<float>().CopyTo(alpha);
        var offset = new float[o.numel()];
        o.data<float>().CopyTo(offset);
        return new BcqWeights(OutFeatures, InFeatures, Bits, GroupSize, signs, alpha, offset);
    }

    /// <summary>W [N, K] = Σ_i α·b + offset in <paramref name="dtype"/>, computed in float32 with TorchSharp ops.</summary>
    public Tensor Dequantize(ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var shifts = Scalars.Arange(32, ScalarType.Int32, Signs.device).view(1, 1, 32, 1);
        var one = ones(1, ScalarType.Int32, Signs.device);                                       // bitwise_and takes a tensor
        var bits = Signs.unsqueeze(2).bitwise_right_shift(shifts).bitwise_and(one);               // [q, W, 32, N]
        var b = bits.reshape(Bits, -1, OutFeatures).narrow(1, 0, InFeatures)
            .to(ScalarType.Float32).mul_(Scalars.Of(2)).sub_(Scalars.OneF);                      // [q, K, N] ±1
        var alpha = Alpha.to(ScalarType.Float32).repeat_interleave(GroupSize, 1).narrow(1, 0, InFeatures);   // [q, K, N]
        var w = Offset.to(ScalarType.Float32).repeat_interleave(GroupSize, 0).narrow(0, 0, InFeatures).clone(); // [K, N]
        var terms = (alpha * b).unbind(0);
        var sum = terms[0];
        for (int i = 1; i < terms.Length; i++) sum = Scalars.Add(sum, terms[i]);
        return Scalars.Add(sum, w).t().to(dtype).contiguous().MoveToOuterDisposeScope();
    }

    private static string Shape(Tensor t) => Shape(t.shape);
    private static string Shape(long[] s) => $"[{string.Join(", ", s)}]";

    public void Dispose()
    {
        Signs.Dispose();
        Alpha.Dispose();
        Offset.Dispose();
    }
}
