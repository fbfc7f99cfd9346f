using System.Globalization;
using System.Runtime.InteropServices;

namespace InferenceServer.Engine.Runner;

/// <summary>
/// Fault injection for the out-of-memory path, which a CPU machine cannot reach on its own:
/// <c>INFERENCE_INJECT_OOM_STEPS=3,7</c> makes the runner's 3rd and 7th <c>Execute</c> calls (counted from 1 after
/// start-up; warm-up does not count) throw what TorchSharp throws when CUDA cannot allocate, after the step's inputs
/// were applied to the batch, as a real failure in the forward pass would be. Unset (the normal case): no cost.
/// </summary>
public sealed class OutOfMemoryFault
{
    public const string EnvVar = "INFERENCE_INJECT_OOM_STEPS";

    private readonly HashSet<long> _steps;
    private long _calls;

    private OutOfMemoryFault(HashSet<long> steps) => _steps = steps;

    /// <summary>The fault the environment asks for, or null. A malformed value is an error naming the variable.</summary>
    public static OutOfMemoryFault? FromEnvironment()
    {
        var value = Environment.GetEnvironmentVariable(EnvVar);
        if (string.IsNullOrWhiteSpace(value)) return null;
        var steps = new HashSet<long>();
        foreach (var part in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!long.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out long n) || n < 1)
                throw new ArgumentException($"{EnvVar}={value}: expected step numbers from 1, separated by commas (e.g. 3,7).");
            steps.Add(n);
        }
        return new OutOfMemoryFault(steps);
    }

    /// <summary>Called once per executed step; throws on the chosen ones.</summary>
    public void OnStep()
    {
        long n = ++_calls;
        if (_steps.Contains(n))
            throw new ExternalException($"CUDA out of memory. Tried to allocate 2.00 GiB (injected by {EnvVar} at step {n})");
    }
}
