namespace InferenceServer.Engine.Sampling;

/// <summary>
/// What the sampler needs about one sequence (one logits row) in this decode step.
/// </summary>
/// <param name="Parameters">The request's sampling settings.</param>
/// <param name="PromptTokenIds">Prompt ids: repetition penalty covers them.</param>
/// <param name="OutputTokenIds">Ids generated so far: all penalties and min_tokens use them.</param>
/// <param name="RandomState">The sequence's own stream; required when <see cref="SamplingParams.Seed"/> is set, ignored otherwise.</param>
public sealed record SequenceSamplingInput(
    SamplingParams Parameters,
    IReadOnlyList<int> PromptTokenIds,
    IReadOnlyList<int> OutputTokenIds,
    SequenceRandomState? RandomState = null);
