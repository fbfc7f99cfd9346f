namespace InferenceServer.Server.Cli;

/// <summary>
/// Where <c>serve</c> takes its API keys from: every <c>--api-key KEY</c> and every key of <c>--api-key-file PATH</c>;
/// with neither, the INFERENCE_API_KEY environment variable, else vLLM's VLLM_API_KEY. Any one of the keys is accepted.
/// Errors name the option and the file's full path, never a key.
/// </summary>
public static class ApiKeySources
{
    public const string EnvironmentVariable = "INFERENCE_API_KEY";
    public const string VllmEnvironmentVariable = "VLLM_API_KEY";

    /// <exception cref="InvalidOperationException">An empty --api-key, or a key file that is missing, unreadable or holds no key.</exception>
    public static IReadOnlyList<string> Resolve(IReadOnlyList<string>? flags, string? file, Func<string, string?> environment)
    {
        var keys = new List<string>();
        foreach (var k in flags ?? [])
        {
            if (string.IsNullOrWhiteSpace(k)) throw new InvalidOperationException("--api-key: the key is empty.");
            keys.Add(k);
        }
        if (file is not null) keys.AddRange(ReadFile(file));
        if (keys.Count == 0 && (environment(EnvironmentVariable) ?? environment(VllmEnvironmentVariable)) is { Length: > 0 } fromEnv)
            keys.Add(fromEnv);
        return keys.Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>The keys of a key file: one per line, surrounding whitespace trimmed, blank lines and lines starting with # skipped.</summary>
    public static IReadOnlyList<string> ReadFile(string file)
    {
        string path = Path.GetFullPath(file);
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new InvalidOperationException($"--api-key-file {path}: the file does not exist.");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.SecurityException)
        {
            throw new InvalidOperationException($"--api-key-file {path}: the file cannot be read ({e.GetType().Name}).");
        }
        var keys = lines.Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        if (keys.Count == 0) throw new InvalidOperationException($"--api-key-file {path}: the file holds no key (one per line; blank lines and # comments are skipped).");
        return keys;
    }
}
