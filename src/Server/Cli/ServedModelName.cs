using System.Text.Json.Nodes;

namespace InferenceServer.Server.Cli;

/// <summary>
/// The name clients put in "model" when no --served-model-name is given. vLLM's default is --model as given; a folder
/// written by <c>quantize</c> carries its source model's name in config.json under <see cref="ConfigKey"/>, so a
/// quantized tiny-llama is still served as "tiny-llama" and the README's requests keep working.
/// </summary>
public static class ServedModelName
{
    /// <summary>Our key in config.json (transformers keeps unknown keys as plain attributes).</summary>
    public const string ConfigKey = "served_model_name";

    public const string EmbeddedModel = "tiny-llama";

    /// <param name="modelFlag">--model as given; null for the embedded model.</param>
    /// <param name="modelDir">The folder that was loaded.</param>
    public static string Default(string? modelFlag, string modelDir) =>
        Carried(modelDir) ?? modelFlag ?? EmbeddedModel;

    /// <summary>The name a quantize output folder carries, or null.</summary>
    public static string? Carried(string modelDir)
    {
        try
        {
            return JsonNode.Parse(File.ReadAllText(Path.Combine(modelDir, "config.json")))?[ConfigKey]?.GetValue<string>() is { Length: > 0 } name
                ? name : null;
        }
        catch (Exception e) when (e is IOException or System.Text.Json.JsonException or InvalidOperationException or FormatException)
        {
            return null; // the loader reports a bad config.json with the file's name; this is only a default
        }
    }

    /// <summary>Writes the source model's served name into a quantize output folder's config.json.</summary>
    public static void CarryInto(string outputDir, string name)
    {
        var path = Path.Combine(outputDir, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        config[ConfigKey] = name;
        File.WriteAllText(path, config.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
    }
}
