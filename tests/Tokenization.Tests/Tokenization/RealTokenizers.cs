using InferenceServer.TestSupport;

namespace InferenceServer.Tokenization.Tests.Tokenization;

/// <summary>
/// The Llama-3 and Qwen3 tokenizer files, kept out of git: the test command (tests/run-all.sh) fetches them with
/// tests/scripts/fetch-tokenizers.sh into the git-ignored .cache/tokenizers/ before any test runs. Tests never fetch
/// (no test reaches the network); a test whose files are missing fails, naming the script to run.
/// </summary>
internal static class RealTokenizers
{
    public const string FetchScript = "tests/scripts/fetch-tokenizers.sh";

    public static string CacheDir => Path.Combine(RepoPaths.Root, ".cache", "tokenizers");

    /// <summary>The folder holding tokenizer.json and tokenizer_config.json of <paramref name="name"/>; fails the test when they are missing.</summary>
    public static string Folder(string name)
    {
        var dir = Path.Combine(CacheDir, name);
        var missing = new[] { "tokenizer.json", "tokenizer_config.json" }.Where(f => !File.Exists(Path.Combine(dir, f))).ToList();
        if (missing.Count > 0)
            Assert.Fail($"{string.Join(" and ", missing)} of the {name} tokenizer missing from {dir}: run {FetchScript} "
                + "(needs npm and network; tests/run-all.sh runs it before the tests).");
        return dir;
    }
}
