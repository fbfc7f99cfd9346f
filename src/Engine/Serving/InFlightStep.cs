using InferenceServer.Engine.Kernels;
using InferenceServer.Engine.Sampling;

namespace InferenceServer.Engine.Serving;

/// <summary>
/// A launched engine step whose sampled tokens are still on their way to the host (async scheduling). Each sampled
/// sequence already holds a placeholder token at <see cref="TokenIndex"/>; the next step may feed the real id to the
/// model straight from <see cref="Samples"/> on the device, and the engine fills the placeholders in once
/// <see cref="Read"/> returns.
/// </summary>
internal sealed class InFlightStep(IReadOnlyList<RequestState> states, int[] tokenIndex, DeviceSamples samples, NativeKernels? kernels, IntPtr readbackEvent) : IDisposable
{
    /// <summary>The token id held by a sequence whose sampled token is not on the host yet.</summary>
    public const int Placeholder = -1;

    private Dictionary<RequestState, int>? _rowOf;

    /// <summary>Row i of <see cref="Samples"/> belongs to state i.</summary>
    public IReadOnlyList<RequestState> States { get; } = states;

    /// <summary>Where in state i's token list its placeholder sits.</summary>
    public IReadOnlyList<int> TokenIndex { get; } = tokenIndex;

    public DeviceSamples Samples { get; } = samples;

    /// <summary>Some sequence samples with penalties, which count its tokens on the host: read this step back first.</summary>
    public bool NeedsHostTokens { get; } = states.Any(s => s.Sampling.HasRepetitionPenalty || s.Sampling.HasFrequencyOrPresencePenalty);

    /// <summary>The sample row of a state, or -1 when the step did not sample it.</summary>
    public int RowOf(RequestState state)
    {
        _rowOf ??= States.Select((s, i) => (s, i)).ToDictionary(p => p.s, p => p.i);
        return _rowOf.GetValueOrDefault(state, -1);
    }

    /// <summary>Waits for the device→host copy queued at launch (on CUDA, through its event) and returns the samples.</summary>
    public SampleOutput[] Read()
    {
        if (readbackEvent != IntPtr.Zero) kernels!.EventSynchronize(readbackEvent);
        return Samples.Read();
    }

    public void Dispose() => Samples.Dispose();
}
