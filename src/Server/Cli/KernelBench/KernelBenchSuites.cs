namespace InferenceServer.Server.Cli.KernelBench;

/// <summary>The suites bench-kernels knows, by --suite name.</summary>
public static class KernelBenchSuites
{
    public static readonly IReadOnlyList<IKernelBenchSuite> All =
    [
        new Int8KernelBench(),
        new LutGemmKernelBench(),
        new GroupwiseKernelBench(),
    ];

    public static IKernelBenchSuite Find(string name) => All.FirstOrDefault(s => s.Name == name)
        ?? throw new ArgumentException($"--suite {name}: unknown suite; known: {string.Join(", ", All.Select(s => s.Name))}.");
}
