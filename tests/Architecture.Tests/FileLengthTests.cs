namespace InferenceServer.Architecture.Tests;

/// <summary>The project's size limits for the engine's sources, checked on the source tree.</summary>
public class FileLengthTests
{
    const int MaxEngineFileLines = 300;
    const int MaxEngineCoreLines = 200;

    [Fact]
    public void Engine_source_files_stay_within_their_line_limits()
    {
        var root = RepoRoot();
        var engine = Path.Combine(root, "src", "Engine");
        var problems = new List<string>();
        foreach (var file in Directory.EnumerateFiles(engine, "*.cs", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var relative = Path.GetRelativePath(root, file).Replace('\\', '/');
            if (IsGenerated(relative)) continue;
            var lines = File.ReadLines(file).Count();
            if (lines > MaxEngineFileLines) problems.Add($"{relative}: {lines} lines (limit {MaxEngineFileLines})");
        }

        var core = Path.Combine(engine, "Core", "EngineCore.cs");
        if (!File.Exists(core)) problems.Add($"src/Engine/Core/EngineCore.cs: missing (limit {MaxEngineCoreLines} lines)");
        else if (File.ReadLines(core).Count() is var coreLines && coreLines > MaxEngineCoreLines)
            problems.Add($"src/Engine/Core/EngineCore.cs: {coreLines} lines (limit {MaxEngineCoreLines})");

        if (problems.Count > 0)
            Assert.Fail($"{problems.Count} engine source file(s) over their limit:\n" + string.Join("\n", problems));
    }

    /// <summary>bin/ and obj/ hold the build's own .cs files (AssemblyInfo, global usings); *.g.cs are generator output.</summary>
    static bool IsGenerated(string relativePath) =>
        relativePath.EndsWith(".g.cs", StringComparison.OrdinalIgnoreCase)
        || relativePath.Split('/').Any(part => part is "bin" or "obj");

    static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "InferenceServer.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no InferenceServer.sln above {AppContext.BaseDirectory}");
    }
}
