using System.Diagnostics;

namespace InferenceServer.Engine.Serving;

/// <summary>
/// Where an engine step's time goes, for tuning: host work before the forward pass, the forward pass itself (the
/// device is synchronised after it, which costs a little overlap), and sampling plus output handling. Enabled by
/// INFERENCE_PROFILE_STEPS=1; the summary goes to the engine log when the engine stops.
/// </summary>
internal sealed class StepProfiler
{
    public const string EnvVar = "INFERENCE_PROFILE_STEPS";
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Dictionary<string, (double Ms, long Count)> _phases = new();
    private double _mark;

    public static StepProfiler? FromEnvironment() => Environment.GetEnvironmentVariable(EnvVar) == "1" ? new StepProfiler() : null;

    public void Start() => _mark = _clock.Elapsed.TotalMilliseconds;

    /// <summary>Charges the time since the last mark to <paramref name="phase"/> (grouped by step kind, e.g. "decode/forward").</summary>
    public void Lap(string phase)
    {
        double now = _clock.Elapsed.TotalMilliseconds;
        var (ms, count) = _phases.GetValueOrDefault(phase);
        _phases[phase] = (ms + now - _mark, count + 1);
        _mark = now;
    }

    public string Summary() => "step profile (mean ms): " + string.Join(", ",
        _phases.OrderBy(p => p.Key).Select(p => $"{p.Key} {p.Value.Ms / p.Value.Count:F3} ×{p.Value.Count}"));
}
