using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Sampling;

namespace InferenceServer.Engine.Runner;

/// <summary>What one step produced once it reached the host (vLLM v1's ModelRunnerOutput).</summary>
/// <param name="RequestIds">The sampled requests; sample i belongs to request i.</param>
/// <param name="PromptLogprobs">For requests that asked for them, sent with their first sampled token: entry 0 is null.</param>
public sealed record RunnerOutput(
    IReadOnlyList<string> RequestIds,
    IReadOnlyList<SampleOutput> Samples,
    IReadOnlyDictionary<string, IReadOnlyList<OutputLogprob?>>? PromptLogprobs);

/// <summary>A launched step whose samples are still on their way to the host.</summary>
public interface IPendingRunnerOutput : IDisposable
{
    /// <summary>Some row samples with penalties, which count its tokens on the host: read this step back before the next.</summary>
    bool NeedsHostTokens { get; }

    /// <summary>Waits for the device→host copy queued at launch and returns the step's output.</summary>
    RunnerOutput Wait();
}
