namespace InferenceServer.TestSupport;

/// <summary>Locates files committed in the repository (the embedded model, fixtures) from a test's bin folder.</summary>
public static class RepoPaths
{
    private static readonly Lazy<string> RootLazy = new(FindRoot);

    /// <summary>The repository root: the first ancestor of the test's base directory holding InferenceServer.sln.</summary>
    public static string Root => RootLazy.Value;

    /// <summary>src/Assets: the embedded default model, data files and test fixtures.</summary>
    public static string Assets => Path.Combine(Root, "src", "Assets");

    public static string TinyLlama => Path.Combine(Assets, "tiny-llama");

    public static string Fixture(params string[] parts) => Path.Combine([Assets, "fixtures", .. parts]);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "InferenceServer.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException($"InferenceServer.sln not found above {AppContext.BaseDirectory}");
    }
}
