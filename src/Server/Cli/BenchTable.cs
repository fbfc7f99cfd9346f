using System.Globalization;

namespace InferenceServer.Server.Cli;

/// <summary><c>bench</c>'s stdout: one row per concurrency level, the figures a reader compares at a glance.</summary>
public static class BenchTable
{
    public static void Write(TextWriter output, IReadOnlyList<Dictionary<string, object>> runs)
    {
        string[] header = ["concurrency", "output tok/s", "TTFT p50 ms", "TTFT p99 ms", "TPOT p50 ms", "TPOT p99 ms", "steps", "wall s"];
        var rows = runs.Select(r => new[]
        {
            F(r["concurrency"], "0"), F(r["output_tokens_per_s"], "0.0"),
            F(Ms(r, "ttft_ms", "p50"), "0.0"), F(Ms(r, "ttft_ms", "p99"), "0.0"),
            F(Ms(r, "tpot_ms", "p50"), "0.00"), F(Ms(r, "tpot_ms", "p99"), "0.00"),
            F(r["engine_steps"], "0"), F(r["wall_s"], "0.00"),
        }).ToList();
        var widths = header.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToArray();
        output.WriteLine(string.Join("  ", header.Select((h, i) => h.PadLeft(widths[i]))));
        foreach (var row in rows)
            output.WriteLine(string.Join("  ", row.Select((c, i) => c.PadLeft(widths[i]))));
    }

    private static object Ms(Dictionary<string, object> run, string key, string percentile) => ((Dictionary<string, double>)run[key])[percentile];

    private static string F(object value, string format) => Convert.ToDouble(value, CultureInfo.InvariantCulture).ToString(format, CultureInfo.InvariantCulture);
}
