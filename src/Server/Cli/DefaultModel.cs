namespace InferenceServer.Server.Cli;

/// <summary>
/// Finds the embedded default model (tiny-llama). It lives in the repository at src/Assets/tiny-llama; a published
/// app or container looks next to itself first (Assets/tiny-llama), then walks up to a checkout.
/// </summary>
public static class DefaultModel
{
    public const string EnvVar = "INFERENCE_ASSETS";

    public static string AssetsDir()
    {
        if (Environment.GetEnvironmentVariable(EnvVar) is { Length: > 0 } env) return env;
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            var beside = Path.Combine(start, "Assets");
            if (Directory.Exists(Path.Combine(beside, "tiny-llama"))) return beside;
            for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "src", "Assets");
                if (Directory.Exists(Path.Combine(candidate, "tiny-llama"))) return candidate;
            }
        }
        throw new DirectoryNotFoundException($"The embedded model was not found (looked for Assets/tiny-llama beside the app and src/Assets/tiny-llama above it). Pass --model DIR or set {EnvVar}.");
    }

    public static string TinyLlamaDir() => Path.Combine(AssetsDir(), "tiny-llama");
}
