using System.Diagnostics;

namespace InferenceServer.Engine.Metrics;

/// <summary>
/// Where an engine step's time goes, for tuning, by step kind (decode-graph, decode, mixed): host-before (the
/// persistent batch's diff, the step's inputs and their copies to the device), forward (the device is synchronised
/// after it, which costs a little overlap), sample-prep and sample (the sampler's inputs and launch), and output
/// (reading the previous step's samples back, token-level stops, handing tokens to the request streams; the
/// detokenizing happens on the streams' side). Enabled by INFERENCE_PROFILE_STEPS=1; the summary goes to the engine
/// log when the engine stops.
/// </summary>
public sealed class StepProfiler
{
    public const string EnvVar = "INFERENCE_PROFILE_STEPS";
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Dictionary<string, (double Ms, long Count)> _phases = new();
    private double _mark;
    private string _kind = "";

    public static StepProfiler? FromEnvironment() => Environment.GetEnvironmentVariable(EnvVar) == "1" ? new StepProfiler() : null;

    /// <summary>
    /// The engine step (counted from 0) whose forward pass an attached CUDA profiler records, from
    /// INFERENCE_PROFILE_STEP (e.g. <c>ncu --profile-from-start off</c>); -1 when unset.
    /// </summary>
    public static long CudaProfiledStep() => long.TryParse(Environment.GetEnvironmentVariable("INFERENCE_PROFILE_STEP"), out var s) ? s : -1;

    public void Start() => _mark = _clock.Elapsed.TotalMilliseconds;

    /// <summary>Names the step's kind ("decode", "mixed") and charges the time since Start to its <paramref name="phase"/>.</summary>
    public void Lap(string kind, string phase)
    {
        _kind = kind;
        Lap(phase);
    }

    /// <summary>Charges the time since the last mark to <paramref name="phase"/> of the current step's kind.</summary>
    public void Lap(string phase)
    {
        double now = _clock.Elapsed.TotalMilliseconds;
        var key = $"{_kind}/{phase}";
        var (ms, count) = _phases.GetValueOrDefault(key);
        _phases[key] = (ms + now - _mark, count + 1);
        _mark = now;
    }

    public string Summary() => "step profile (mean ms): " + string.Join(", ",
        _phases.OrderBy(p => p.Key).Select(p => $"{p.Key} {p.Value.Ms / p.Value.Count:F3} ×{p.Value.Count}"));
}
