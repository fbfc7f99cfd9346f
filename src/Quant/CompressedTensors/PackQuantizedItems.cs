using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models.Quantization;
using InferenceServer.Quant.Kernels;
using static TorchSharp.torch;

namespace InferenceServer.Quant.CompressedTensors;

/// <summary>
/// The safetensors entries of one group-wise layer in the pack-quantized layout, split back into its checkpoint
/// parts: weight_packed int32 [rows, K·b/32], weight_scale float32 [rows, K/G] (float32 whatever the serving dtype,
/// so serving the file reproduces the kernel bit for bit), weight_zero_point int32 [⌈rows·b/32⌉, K/G] when
/// asymmetric, weight_shape int32 [2], and the bias.
/// </summary>
public static class PackQuantizedItems
{
    public static IEnumerable<SafeTensorsWriter.Item> For(LinearSpec spec, GroupwiseLinearKernel kernel, ScalarType dtype)
    {
        var w = kernel.Weight;
        int words = w.WordsPerRow, groups = w.Groups, row = 0;
        foreach (var (part, rows) in spec.Parts)
        {
            int start = row;
            yield return new(part + ".weight_packed", ScalarType.Int32, [rows, words],
                () => tensor(w.Packed.AsSpan(start * words, rows * words).ToArray(), [rows, words]));
            yield return new(part + ".weight_scale", ScalarType.Float32, [rows, groups],
                () => tensor(w.Scales.AsSpan(start * groups, rows * groups).ToArray(), [rows, groups]));
            if (!w.Symmetric)
            {
                int zpRows = (rows + w.CodesPerWord - 1) / w.CodesPerWord;
                yield return new(part + ".weight_zero_point", ScalarType.Int32, [zpRows, groups],
                    () => tensor(CompressedTensorsGroupwiseMethod.PackRows(w.Zeros.AsSpan(start * groups, rows * groups), rows, groups, w.Bits), [zpRows, groups]));
            }
            yield return new(part + ".weight_shape", ScalarType.Int32, [2], () => tensor(new[] { rows, w.InFeatures }));
            if (kernel.Bias is { } b) yield return new(part + ".bias", dtype, [rows], () => b.narrow(0, start, rows).cpu());
            row += rows;
        }
    }
}
