using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models.Quantization;
using InferenceServer.Quant.Kernels;
using InferenceServer.Quant.ZeroQuant;
using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Quant.CompressedTensors;

/// <summary>
/// Serves a compressed-tensors pack-quantized checkpoint (written by <c>InferenceServer quantize --quantization
/// zeroquant</c>, or by llm-compressor's W4A16-style recipes): each part's packed words, scales and zero points go
/// straight into <see cref="GroupwiseLinearKernel"/>, with no re-quantization; fused layers (qkv, gate_up) stack
/// their parts' rows, which must share one scheme.
/// </summary>
public sealed class CompressedTensorsGroupwiseMethod(PackQuantizedScheme scheme) : IQuantMethod
{
    public PackQuantizedScheme Scheme => scheme;
    public string Name => CompressedTensorsScheme.QuantMethod;

    public bool AppliesTo(LinearSpec spec)
    {
        int ignored = spec.Parts.Count(p => scheme.Ignores(p.Name) || scheme.SchemeOf(p.Name) is null);
        if (ignored > 0 && ignored < spec.Parts.Count)
            throw new ModelLoadException($"quantization_config leaves only some of the parts fused into {spec.Name} ({string.Join(", ", spec.Parts.Select(p => p.Name))}) unquantized; they must be quantized alike.");
        return ignored == 0;
    }

    public ILinearKernel? LoadPrequantized(LinearSpec spec, IWeightSource weights)
    {
        var s = scheme.SchemeOf(spec.Parts[0].Name)!;
        if (spec.Parts.Any(p => scheme.SchemeOf(p.Name) != s))
            throw new ModelLoadException($"the parts fused into {spec.Name} have different schemes in quantization_config; they must match.");
        try
        {
            GroupwiseWeight.Check(s.WeightBits, s.GroupSize, spec.InFeatures, spec.Name);
        }
        catch (ArgumentException e)
        {
            throw new ModelLoadException(e.Message);
        }
        if (spec.Device.type != DeviceType.CPU) GroupwiseDeviceWeight.Require(spec.Kernels, s.GroupSize, spec.Name);
        int k = spec.InFeatures, perWord = 32 / s.WeightBits, groups = k / s.GroupSize;
        var packed = new List<int>();
        var scales = new List<float>();
        var zeros = new List<byte>();
        var biases = new List<Tensor>();
        foreach (var (part, rows) in spec.Parts)
        {
            if (!weights.Has(part + ".weight_packed"))
                throw new ModelLoadException($"{part}.weight_packed is missing: quantization_config says {part} is pack-quantized.");
            if (weights.Has(part + ".weight_g_idx"))
                throw new ModelLoadException($"{part}.weight_g_idx is present: activation reordering (actorder) is not supported.");
            using (var shape = weights.Get(part + ".weight_shape", [2], ScalarType.Int32, CPU))
            {
                var dims = shape.data<int>().ToArray();
                if (dims[0] != rows || dims[1] != k)
                    throw new ModelLoadException($"{part}.weight_shape is [{dims[0]}, {dims[1]}]; config.json implies [{rows}, {k}].");
            }
            using (var w = weights.Get(part + ".weight_packed", [rows, k / perWord], ScalarType.Int32, CPU))
                packed.AddRange(w.data<int>());
            using (var sc = weights.Get(part + ".weight_scale", [rows, groups], ScalarType.Float32, CPU))
                scales.AddRange(sc.data<float>());
            if (s.Symmetric)
                zeros.AddRange(Enumerable.Repeat((byte)(1 << (s.WeightBits - 1)), rows * groups));
            else
            {
                if (!weights.Has(part + ".weight_zero_point"))
                    throw new ModelLoadException($"{part}.weight_zero_point is missing: quantization_config says {part} is asymmetric.");
                using var zp = weights.Get(part + ".weight_zero_point", [(rows + perWord - 1) / perWord, groups], ScalarType.Int32, CPU);
                zeros.AddRange(UnpackRows(zp.data<int>().ToArray(), rows, groups, s.WeightBits));
            }
            if (spec.HasBias) biases.Add(weights.Get(part + ".bias", [rows], spec.Dtype, spec.Device, WeightInit.Zeros));
        }
        var gw = new GroupwiseWeight(s.WeightBits, s.GroupSize, spec.OutFeatures, k, s.Symmetric, [.. packed], [.. scales], [.. zeros]);
        Tensor? bias = null;
        if (spec.HasBias)
        {
            bias = biases.Count == 1 ? biases[0] : cat(biases, 0);
            if (biases.Count > 1) foreach (var b in biases) b.Dispose();
        }
        return new GroupwiseLinearKernel(gw, s.ActivationBits, bias, spec.Device, spec.Kernels, spec.Name);
    }

    /// <summary>Zero points packed along the output dimension (pack_to_int32 with packed_dim=0): row r of group g is in word [r / (32/b), g] at bits b·(r mod 32/b).</summary>
    public static byte[] UnpackRows(int[] words, int rows, int groups, int bits)
    {
        int perWord = 32 / bits, mask = (1 << bits) - 1;
        var result = new byte[rows * groups];
        for (int r = 0; r < rows; r++)
        for (int g = 0; g < groups; g++)
            result[r * groups + g] = (byte)((words[r / perWord * groups + g] >>> (bits * (r % perWord))) & mask);
        return result;
    }

    /// <summary>The inverse of <see cref="UnpackRows"/>: [rows, groups] codes → [⌈rows·b/32⌉, groups] words.</summary>
    public static int[] PackRows(ReadOnlySpan<byte> codes, int rows, int groups, int bits)
    {
        int perWord = 32 / bits;
        var words = new int[(rows + perWord - 1) / perWord * groups];
        for (int r = 0; r < rows; r++)
        for (int g = 0; g < groups; g++)
            words[r / perWord * groups + g] |= codes[r * groups + g] << (bits * (r % perWord));
        return words;
    }

    public ILinearKernel Create(LinearSpec spec, Tensor weight, Tensor? bias) =>
        throw new ModelLoadException($"{spec.Name}: a pack-quantized checkpoint stores quantized layers; this one has no packed weights.");

    public ILinearKernel CreateDummy(LinearSpec spec)
    {
        var s = scheme.SchemeOf(spec.Parts[0].Name)!;
        return new ZeroQuantMethod(new ZeroQuantOptions { WeightBits = s.WeightBits, GroupSize = s.GroupSize, Symmetric = s.Symmetric, ActivationBits = s.ActivationBits })
            .CreateDummy(spec);
    }
}
