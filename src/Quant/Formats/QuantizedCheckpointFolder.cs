using System.Text.Json;
using System.Text.Json.Nodes;
using InferenceServer.Engine.Loading;
using static TorchSharp.torch;

namespace InferenceServer.Quant.Formats;

/// <summary>
/// Writes a prequantized checkpoint folder, whatever the format of its quantized layers: model.safetensors (the
/// format's tensors, then every other source tensor as the model saw it, floats in the serving dtype), config.json
/// with the format's quantization_config, and the tokenizer and generation files.
/// </summary>
public static class QuantizedCheckpointFolder
{
    private static readonly string[] CopiedFiles =
    [
        "tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
        "vocab.json", "merges.txt", "generation_config.json", "chat_template.jinja", "chat_template.json",
    ];

    /// <param name="checkpoint">The full-precision checkpoint (its folder also gives config.json and the tokenizer files).</param>
    /// <param name="source">The checkpoint as the model was built from it (any weight transform already applied).</param>
    /// <param name="quantized">The format's tensors.</param>
    /// <param name="replaced">Source tensor names the quantized tensors stand for (not written again).</param>
    /// <returns>The tensors written and their bytes.</returns>
    public static (int Tensors, long Bytes) Write(string outputDir, Checkpoint checkpoint, IWeightSource source, ScalarType dtype,
        IReadOnlyList<SafeTensorsWriter.Item> quantized, IReadOnlySet<string> replaced, JsonObject quantizationConfig, Action<int, int>? progress = null)
    {
        var items = new List<SafeTensorsWriter.Item>(quantized);
        foreach (var name in checkpoint.Names.Where(n => !replaced.Contains(n)).Order(StringComparer.Ordinal))
        {
            var shape = checkpoint.Entry(name).Shape;
            var stored = checkpoint.Entry(name).Dtype;
            var type = stored is ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16 ? dtype : stored;
            items.Add(new(name, type, shape, () => source.Get(name, shape, type, CPU)));
        }
        Directory.CreateDirectory(outputDir);
        SafeTensorsWriter.Write(Path.Combine(outputDir, "model.safetensors"), items, progress: progress);

        var sourceDir = checkpoint.Directory;
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(sourceDir, "config.json")))!.AsObject();
        config["quantization_config"] = quantizationConfig;
        config["torch_dtype"] = dtype switch { ScalarType.BFloat16 => "bfloat16", ScalarType.Float16 => "float16", _ => "float32" };
        config.Remove("dtype");
        File.WriteAllText(Path.Combine(outputDir, "config.json"), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        foreach (var f in CopiedFiles.Where(f => File.Exists(Path.Combine(sourceDir, f))))
            File.Copy(Path.Combine(sourceDir, f), Path.Combine(outputDir, f), overwrite: true);
        long bytes = new FileInfo(Path.Combine(outputDir, "model.safetensors")).Length;
        return (items.Count, bytes);
    }
}
