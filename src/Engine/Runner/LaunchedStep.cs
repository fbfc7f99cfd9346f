using InferenceServer.Engine.Kernels;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Sampling;

namespace InferenceServer.Engine.Runner;

/// <summary>
/// A launched step whose sampled tokens are still on their way to the host (async scheduling). Each sampled request
/// holds a placeholder at <see cref="TokenIndex"/> in the runner's state; the next step may feed the real id to the
/// model straight from <see cref="Samples"/> on the device, and <see cref="Wait"/> fills the placeholders in.
/// </summary>
internal sealed class LaunchedStep(InputBatch batch, string[] requestIds, int[] tokenIndex, DeviceSamples samples,
    NativeKernels? kernels, IntPtr readbackEvent, bool needsHostTokens,
    IReadOnlyDictionary<string, IReadOnlyList<OutputLogprob?>>? promptLogprobs) : IPendingRunnerOutput
{
    private Dictionary<string, int>? _rowOf;

    public DeviceSamples Samples { get; } = samples;

    public bool NeedsHostTokens { get; } = needsHostTokens;

    /// <summary>The sample row of a request, or -1 when the step did not sample it.</summary>
    public int RowOf(string id)
    {
        _rowOf ??= requestIds.Select((r, i) => (r, i)).ToDictionary(p => p.r, p => p.i);
        return _rowOf.GetValueOrDefault(id, -1);
    }

    public RunnerOutput Wait()
    {
        if (readbackEvent != IntPtr.Zero) kernels!.EventSynchronize(readbackEvent);
        var samples = Samples.Read();
        for (int i = 0; i < requestIds.Length; i++)
            // By id: a request preempted and resumed since launch holds a new state with the same placeholder.
            if (batch.TryGet(requestIds[i], out var s) && tokenIndex[i] < s.Tokens.Count && s.Tokens[tokenIndex[i]] == Scheduling.Request.Placeholder)
                s.Tokens[tokenIndex[i]] = samples[i].TokenId;
        return new RunnerOutput(requestIds, samples, promptLogprobs);
    }

    public void Dispose() => Samples.Dispose();
}
