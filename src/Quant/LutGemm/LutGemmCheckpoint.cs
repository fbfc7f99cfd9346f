using System.Text.Json.Nodes;
using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models.Quantization;
using InferenceServer.Quant.Formats;
using static TorchSharp.torch;

namespace InferenceServer.Quant.LutGemm;

/// <summary>
/// The prequantized checkpoint of <c>--quantization lutgemm</c>: config.json's quantization_config is
/// <c>{"quant_method": "lutgemm", "format": "bcq", "bits": q, "group_size": g, "bcq_init", "bcq_iterations", "ignore"}</c>,
/// and each linear layer's checkpoint part P (q_proj, k_proj, … split back out of fused layers) is stored as the
/// <see cref="BcqWeights"/> layout with N = the part's rows: <c>P.bcq_signs</c> I32 [q, ceil(K/32), N],
/// <c>P.bcq_alpha</c> F32 [q, ceil(K/g), N], <c>P.bcq_offset</c> F32 [ceil(K/g), N], and <c>P.bias</c> if any.
/// Fused layers concatenate their parts along N (the innermost dimension).
/// </summary>
public static class LutGemmCheckpoint
{
    public const string Format = "bcq";
    public const string SignsSuffix = ".bcq_signs";
    public const string AlphaSuffix = ".bcq_alpha";
    public const string OffsetSuffix = ".bcq_offset";

    /// <summary>The quantization_config of a checkpoint written with <paramref name="options"/>.</summary>
    public static JsonObject ToJson(LutGemmOptions options) => new()
    {
        ["quant_method"] = LutGemmMethod.MethodName,
        ["format"] = Format,
        ["bits"] = options.Bits,
        ["group_size"] = options.GroupSize,
        ["bcq_init"] = options.Init.ToString().ToLowerInvariant(),
        ["bcq_iterations"] = options.RefinementRounds,
        ["ignore"] = new JsonArray("lm_head"),
    };

    /// <summary>The method that serves a lutgemm checkpoint; fields it cannot serve are refused by name.</summary>
    public static LutGemmMethod Parse(JsonObject qc)
    {
        var format = qc["format"]?.GetValue<string>();
        if (format != Format)
            throw new ModelLoadException($"quantization_config.format \"{format}\" is not supported for lutgemm (only \"{Format}\").");
        int bits = qc["bits"]?.GetValue<int>() ?? 0, group = qc["group_size"]?.GetValue<int>() ?? 0;
        if (bits is < 1 or > BcqWeights.MaxBits)
            throw new ModelLoadException($"quantization_config.bits {bits}: lutgemm serves 1 to {BcqWeights.MaxBits} bits.");
        if (group < BcqWeights.ChunkSize || group % BcqWeights.ChunkSize != 0)
            throw new ModelLoadException($"quantization_config.group_size {group}: lutgemm needs a positive multiple of {BcqWeights.ChunkSize}.");
        var init = qc["bcq_init"]?.GetValue<string>() == "uniform" ? BcqInit.Uniform : BcqInit.Greedy;
        return new LutGemmMethod(new LutGemmOptions { Bits = bits, GroupSize = group, Init = init, Iterations = qc["bcq_iterations"]?.GetValue<int>() }, prequantized: true);
    }

    /// <summary>Reads one (possibly fused) linear layer's packed tensors onto its device.</summary>
    public static ILinearKernel Load(LinearSpec spec, IWeightSource weights, LutGemmOptions options)
    {
        int q = options.Bits, words = BcqWeights.WordsFor(spec.InFeatures), groups = BcqWeights.GroupsFor(spec.InFeatures, options.GroupSize);
        using var scope = NewDisposeScope();
        List<Tensor> signs = [], alpha = [], offset = [], bias = [];
        foreach (var (part, rows) in spec.Parts)
        {
            if (!weights.Has(part + SignsSuffix))
                throw new ModelLoadException($"{part}{SignsSuffix} is missing: quantization_config says {part} is stored in lutgemm's BCQ form.");
            signs.Add(weights.Get(part + SignsSuffix, [q, words, rows], ScalarType.Int32, spec.Device));
            alpha.Add(weights.Get(part + AlphaSuffix, [q, groups, rows], ScalarType.Float32, spec.Device));
            offset.Add(weights.Get(part + OffsetSuffix, [groups, rows], ScalarType.Float32, spec.Device));
            if (spec.HasBias) bias.Add(weights.Get(part + ".bias", [rows], spec.Dtype, spec.Device, WeightInit.Zeros));
        }
        return LutGemmLinearKernel.FromTensors(Cat(signs, 2).DetachFromDisposeScope(), Cat(alpha, 2).DetachFromDisposeScope(),
            Cat(offset, 1).DetachFromDisposeScope(), spec.InFeatures, options.GroupSize, spec.HasBias ? Cat(bias, 0).DetachFromDisposeScope() : null, spec.Kernels, options.Kernel, spec.Dtype);
    }

    /// <summary>
    /// Writes a model quantized with <paramref name="options"/> (every linear layer a <see cref="LutGemmLinearKernel"/>)
    /// as a lutgemm checkpoint folder.
    /// </summary>
    public static (int Tensors, long Bytes) Write(string outputDir, Checkpoint checkpoint, IWeightSource source, ScalarType dtype,
        IReadOnlyList<(LinearSpec Spec, ILinearKernel Kernel)> layers, LutGemmOptions options, Action<int, int>? progress = null)
    {
        var items = new List<SafeTensorsWriter.Item>();
        var replaced = new HashSet<string>();
        foreach (var (spec, kernel) in layers)
        {
            if (kernel is not LutGemmLinearKernel k)
                throw new InvalidOperationException($"{spec.Name} is not in BCQ form; a lutgemm checkpoint quantizes every linear layer.");
            int row = 0;
            foreach (var (part, rows) in spec.Parts)
            {
                int start = row;
                long[] s = [k.Bits, BcqWeights.WordsFor(k.InFeatures), rows], a = [k.Bits, BcqWeights.GroupsFor(k.InFeatures, k.GroupSize), rows];
                items.Add(new(part + SignsSuffix, ScalarType.Int32, s, () => Slice(k, t => t.Signs, start, rows)));
                items.Add(new(part + AlphaSuffix, ScalarType.Float32, a, () => Slice(k, t => t.Alpha, start, rows)));
                items.Add(new(part + OffsetSuffix, ScalarType.Float32, [a[1], rows], () => Slice(k, t => t.Offset, start, rows)));
                if (k.Bias is { } b) items.Add(new(part + ".bias", dtype, [rows], () => b.narrow(0, start, rows).cpu()));
                replaced.Add(part + ".weight");
                replaced.Add(part + ".bias");
                row += rows;
            }
        }
        if (items.Count == 0)
            throw new InvalidOperationException("no linear layer was quantized; nothing to write as lutgemm.");
        return QuantizedCheckpointFolder.Write(outputDir, checkpoint, source, dtype, items, replaced, ToJson(options), progress);
    }

    /// <summary>Rows start..start+rows of one packed tensor (N is its last dimension), as a contiguous CPU copy.</summary>
    private static Tensor Slice(LutGemmLinearKernel k, Func<(Tensor Signs, Tensor Alpha, Tensor Offset), Tensor> pick, int start, int rows)
    {
        var all = k.PackedTensors();
        try
        {
            var t = pick(all);
            return t.narrow(t.dim() - 1, start, rows).clone();   // a copy: the packed tensors are freed below
        }
        finally
        {
            all.Signs.Dispose();
            all.Alpha.Dispose();
            all.Offset.Dispose();
        }
    }

    private static Tensor Cat(List<Tensor> parts, long dim) => parts.Count == 1 ? parts[0] : cat(parts, dim);
}
