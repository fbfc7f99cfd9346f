using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models.Quantization;
using InferenceServer.Quant.Kernels;
using static TorchSharp.torch;

namespace InferenceServer.Quant.CompressedTensors;

/// <summary>
/// Serves a compressed-tensors INT8 checkpoint (written by <c>InferenceServer quantize</c>, or by llm-compressor's
/// W8A8 recipes): each linear layer's stored int8 weights and scales go straight into the W8A8 kernel, with no
/// re-quantization; fused layers (qkv, gate_up) stack their parts' rows and scales.
/// </summary>
public sealed class CompressedTensorsW8A8Method(CompressedTensorsScheme scheme) : IQuantMethod
{
    public CompressedTensorsScheme Scheme => scheme;

    public string Name => CompressedTensorsScheme.QuantMethod;

    public bool AppliesTo(LinearSpec spec)
    {
        int ignored = spec.Parts.Count(p => scheme.Ignores(p.Name));
        if (ignored > 0 && ignored < spec.Parts.Count)
            throw new ModelLoadException($"quantization_config.ignore lists only some of the parts fused into {spec.Name} ({string.Join(", ", spec.Parts.Select(p => p.Name))}); they must be quantized alike.");
        return ignored == 0;
    }

    public ILinearKernel? LoadPrequantized(LinearSpec spec, IWeightSource weights)
    {
        using var scope = NewDisposeScope();
        var q = new List<Tensor>();
        var scales = new List<Tensor>();
        var biases = new List<Tensor>();
        float? inputScale = null;
        foreach (var (part, rows) in spec.Parts)
        {
            if (!weights.Has(part + ".weight_scale"))
                throw new ModelLoadException($"{part}.weight_scale is missing: quantization_config says {part} is stored in INT8.");
            q.Add(weights.Get(part + ".weight", [rows, spec.InFeatures], ScalarType.Int8, spec.Device));
            scales.Add(weights.Get(part + ".weight_scale", [rows, 1], ScalarType.Float32, spec.Device).view(rows));
            if (spec.HasBias) biases.Add(weights.Get(part + ".bias", [rows], spec.Dtype, spec.Device, WeightInit.Zeros));
            if (scheme.StaticActivations)
            {
                if (!weights.Has(part + ".input_scale"))
                    throw new ModelLoadException($"{part}.input_scale is missing: quantization_config asks for static activation scales.");
                using var s = weights.Get(part + ".input_scale", [1], ScalarType.Float32, CPU);
                // Parts fused into one layer read the same input; a shared scale must cover the widest of them.
                inputScale = Math.Max(inputScale ?? 0, s.item<float>());
            }
        }
        var kernel = W8A8LinearKernel.FromQuantized(Cat(q).DetachFromDisposeScope(), Cat(scales).DetachFromDisposeScope(),
            spec.HasBias ? Cat(biases).DetachFromDisposeScope() : null, inputScale, spec.Kernels);
        return kernel;
    }

    public ILinearKernel Create(LinearSpec spec, Tensor weight, Tensor? bias) =>
        throw new ModelLoadException($"{spec.Name}: a compressed-tensors checkpoint stores quantized layers; this one has no INT8 weights.");

    public ILinearKernel CreateDummy(LinearSpec spec) => W8A8LinearKernel.Random(spec.OutFeatures, spec.InFeatures,
        spec.HasBias ? zeros([spec.OutFeatures], spec.Dtype, spec.Device) : null, scheme.StaticActivations ? 0.05f : null, spec.Device, spec.Kernels);

    private static Tensor Cat(List<Tensor> parts) => parts.Count == 1 ? parts[0] : cat(parts, 0);
}
