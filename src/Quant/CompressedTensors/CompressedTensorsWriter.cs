using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models.Quantization;
using InferenceServer.Quant.Formats;
using InferenceServer.Quant.Kernels;
using static TorchSharp.torch;

namespace InferenceServer.Quant.CompressedTensors;

/// <summary>
/// Writes a quantized model as a compressed-tensors checkpoint folder (<see cref="QuantizedCheckpointFolder"/>): INT8
/// linear layers split back into their checkpoint parts, everything else as the transformed source weights in the
/// serving dtype, and config.json with the compressed-tensors quantization_config.
/// </summary>
public static class CompressedTensorsWriter
{
    /// <param name="checkpoint">The full-precision checkpoint (its folder also gives config.json and the tokenizer files).</param>
    /// <param name="source">The checkpoint as the model was built from it (SmoothQuant's smoothing already folded in).</param>
    /// <param name="layers">Every linear layer built, with its kernel; W8A8 kernels are written in INT8 (int-quantized), group-wise ones packed (pack-quantized).</param>
    /// <param name="skipped">Linear layers the method left in full precision (listed under "ignore").</param>
    /// <returns>The tensors written and their bytes.</returns>
    public static (int Tensors, long Bytes) Write(string outputDir, Checkpoint checkpoint, IWeightSource source,
        ScalarType dtype, IReadOnlyList<(LinearSpec Spec, ILinearKernel Kernel)> layers, Action<int, int>? progress = null,
        IReadOnlyList<LinearSpec>? skipped = null)
    {
        var items = new List<SafeTensorsWriter.Item>();
        var written = new HashSet<string>();
        bool? staticActs = null;
        var groupwise = new Dictionary<ZeroQuant.LayerScheme, List<string>>();
        foreach (var (spec, kernel) in layers)
        {
            if (kernel is GroupwiseLinearKernel g)
            {
                items.AddRange(PackQuantizedItems.For(spec, g, dtype));
                var scheme = new ZeroQuant.LayerScheme(g.Weight.Bits, g.Weight.GroupSize, g.Weight.Symmetric, g.ActivationBits);
                if (!groupwise.TryGetValue(scheme, out var names)) groupwise[scheme] = names = [];
                foreach (var (part, _) in spec.Parts)
                {
                    names.Add(part);
                    written.Add(part + ".weight");
                    written.Add(part + ".bias");
                }
                continue;
            }
            if (kernel is not W8A8LinearKernel k) continue;
            staticActs ??= k.StaticActScale is not null;
            int row = 0;
            foreach (var (part, rows) in spec.Parts)
            {
                int start = row;
                items.Add(new(part + ".weight", ScalarType.Int8, [rows, spec.InFeatures], () => { using var w = k.QuantizedWeight(); return w.narrow(0, start, rows).clone(); }));
                items.Add(new(part + ".weight_scale", ScalarType.Float32, [rows, 1], () => k.WeightScale.narrow(0, start, rows).reshape(rows, 1).cpu()));
                if (k.Bias is { } b) items.Add(new(part + ".bias", dtype, [rows], () => b.narrow(0, start, rows).cpu()));
                if (k.StaticActScale is float s) items.Add(new(part + ".input_scale", ScalarType.Float32, [1], () => tensor(new[] { s })));
                written.Add(part + ".weight");
                written.Add(part + ".bias");
                row += rows;
            }
        }
        if (staticActs is null && groupwise.Count == 0)
            throw new InvalidOperationException("no linear layer was quantized; nothing to write as compressed-tensors.");
        if (staticActs is not null && groupwise.Count > 0)
            throw new InvalidOperationException("INT8 per-channel and group-wise layers cannot share one compressed-tensors format.");
        // Everything else (embeddings, norms, lm_head, layers left in full precision) as the model saw it.
        var ignored = new List<string> { "lm_head" };
        foreach (var (spec, kernel) in layers.Where(l => l.Kernel is not (W8A8LinearKernel or GroupwiseLinearKernel)))
            ignored.AddRange(spec.Parts.Select(p => p.Name));
        foreach (var spec in skipped ?? [])
            ignored.AddRange(spec.Parts.Select(p => p.Name));
        var quantizationConfig = groupwise.Count > 0
            ? new PackQuantizedScheme([.. groupwise.Select(g => ((IReadOnlyList<string>)g.Value, g.Key))], ignored).ToJson()
            : new CompressedTensorsScheme(staticActs!.Value, ignored).ToJson();
        return QuantizedCheckpointFolder.Write(outputDir, checkpoint, source, dtype, items, written, quantizationConfig, progress);
    }
}
