using InferenceServer.Engine.Sampling;

namespace InferenceServer.Engine.Requests;

/// <summary>One generation request as the engine sees it: prompt ids (already templated and tokenized) and sampling.</summary>
/// <param name="PromptLogprobs">Number of top alternatives to return for each prompt token, or null.</param>
public sealed record GenerationRequest(
    string RequestId,
    IReadOnlyList<int> PromptTokenIds,
    SamplingParams Sampling,
    int? PromptLogprobs = null);
