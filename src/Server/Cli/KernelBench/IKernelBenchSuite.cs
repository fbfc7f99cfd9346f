namespace InferenceServer.Server.Cli.KernelBench;

/// <summary>
/// One family of kernels that <c>bench-kernels --suite NAME</c> times against cuBLAS bf16 in the same run. A suite
/// measures one (M, N, K) at a time and then adds its summary (geometric means, bandwidth against the copy ceiling)
/// to the report.
/// </summary>
public interface IKernelBenchSuite
{
    /// <summary>The --suite value.</summary>
    string Name { get; }

    /// <summary>One line for --help.</summary>
    string Description { get; }

    /// <summary>Weight shapes N×K, comma-separated, when --shapes is not given.</summary>
    string DefaultShapes { get; }

    /// <summary>Activation rows M, comma-separated, when --m is not given.</summary>
    string DefaultRows { get; }

    /// <summary>One row of results: m, n, k, times in µs (keys ending in _us) and ratios.</summary>
    Dictionary<string, object> BenchShape(KernelBenchContext context, int m, int n, int k);

    /// <summary>Adds the suite's summary entries to <paramref name="report"/>.</summary>
    void Summarize(KernelBenchContext context, List<Dictionary<string, object>> results, Dictionary<string, object> report);
}
