using System.Text.Json;
using ScottPlot;

namespace InferenceServer.Server.Cli;

/// <summary>One bench run as a point of the plot: its concurrency, output tokens/s, and p50 TPOT and TTFT in ms.</summary>
public sealed record BenchPoint(int Concurrency, double TokensPerSecond, double TpotP50Ms, double TtftP50Ms);

/// <summary>
/// Latency against throughput as a PNG: per series, TPOT p50 (solid, left axis) and TTFT p50 (dashed, right axis)
/// against output tokens/s, each point labelled with its concurrency.
/// </summary>
public static class LatencyThroughputPlot
{
    /// <summary>
    /// Writes the PNG and tells <paramref name="log"/> where, warning when no font was found (the picture then has no
    /// text). Throws InvalidOperationException, naming the file, when the drawing library cannot load here.
    /// </summary>
    public static void Save(string path, string title, IReadOnlyList<(string Name, IReadOnlyList<BenchPoint> Points)> series, Action<string> log,
        int width = 1000, int height = 600)
    {
        try
        {
            Draw(path, title, series, width, height);
        }
        catch (Exception e) when (e is TypeInitializationException or DllNotFoundException)
        {
            // SkiaSharp's native library (or a library it needs, such as fontconfig) is missing on this machine.
            throw new InvalidOperationException($"cannot draw {path}: the drawing library failed to load ({e.GetBaseException().Message.Split('\n')[0]}). " +
                "Draw the JSON results on another machine with `InferenceServer plot FILE... --output PNG`.", e);
        }
        if (!SkiaSharp.SKFontManager.Default.FontFamilies.Any())
            log("warning: no fonts found under /usr/share/fonts, so the plot has no text; install a font package (Debian: fonts-dejavu-core) and rerun.");
        log($"wrote {path}");
    }

    private static void Draw(string path, string title, IReadOnlyList<(string Name, IReadOnlyList<BenchPoint> Points)> series, int width, int height)
    {
        var plt = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        for (int s = 0; s < series.Count; s++)
        {
            var (name, points) = series[s];
            var color = palette.GetColor(s);
            double[] x = points.Select(q => q.TokensPerSecond).ToArray();
            var tpot = plt.Add.Scatter(x, points.Select(q => q.TpotP50Ms).ToArray(), color);
            tpot.LegendText = $"{name} TPOT p50";
            var ttft = plt.Add.Scatter(x, points.Select(q => q.TtftP50Ms).ToArray(), color);
            ttft.LegendText = $"{name} TTFT p50";
            ttft.LinePattern = LinePattern.Dashed;
            ttft.Axes.YAxis = plt.Axes.Right;
            foreach (var q in points)
            {
                var label = plt.Add.Text($"c={q.Concurrency}", q.TokensPerSecond, q.TpotP50Ms);
                label.LabelFontSize = 11;
                label.LabelFontColor = color;
            }
        }
        plt.Title(title);
        plt.XLabel("output tokens/s");
        plt.Axes.Left.Label.Text = "TPOT p50 (ms), solid";
        plt.Axes.Right.Label.Text = "TTFT p50 (ms), dashed";
        plt.ShowLegend(Alignment.UpperLeft);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        plt.SavePng(path, width, height);
    }

    /// <summary>
    /// The series of a bench JSON document (one run, or {"runs": [...]}), named by its quantization, or its dtype
    /// when unquantized.
    /// </summary>
    public static (string Name, IReadOnlyList<BenchPoint> Points) SeriesOf(JsonElement root)
    {
        var runs = root.TryGetProperty("runs", out var r) ? r.EnumerateArray().ToList() : [root];
        var points = runs.Select(run => new BenchPoint(run.GetProperty("concurrency").GetInt32(), run.GetProperty("output_tokens_per_s").GetDouble(),
            run.GetProperty("tpot_ms").GetProperty("p50").GetDouble(), run.GetProperty("ttft_ms").GetProperty("p50").GetDouble())).ToList();
        var first = runs[0];
        string quant = first.TryGetProperty("quantization", out var q) ? q.GetString()! : "none";
        return (quant == "none" && first.TryGetProperty("dtype", out var d) ? d.GetString()!.ToLowerInvariant() : quant, points);
    }

    /// <summary>
    /// The series of a bench --output-json file, its name followed by the file's; errors name the file and where it
    /// was given (<paramref name="given"/>: the option or command).
    /// </summary>
    public static (string Name, IReadOnlyList<BenchPoint> Points) ReadSeries(string path, string given = "--plot-also")
    {
        if (!File.Exists(path)) throw new ArgumentException($"{given} {path}: no such file ({Path.GetFullPath(path)}).");
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            var (name, points) = SeriesOf(doc.RootElement);
            return ($"{name} ({Path.GetFileName(path)})", points);
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or IOException)
        {
            throw new ArgumentException($"{given} {path}: not a bench --output-json file ({e.Message}).", e);
        }
    }
}
