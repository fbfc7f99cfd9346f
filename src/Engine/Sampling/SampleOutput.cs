namespace InferenceServer.Engine.Sampling;

/// <summary>A token id with its log-probability under the raw model distribution.</summary>
public readonly record struct TokenLogprob(int TokenId, float Logprob);

/// <summary>
/// The sampler's result for one row.
/// </summary>
/// <param name="TokenId">The next token.</param>
/// <param name="Logprob">log_softmax of the RAW logits at <paramref name="TokenId"/> (vLLM raw_logprobs); null when the request asked for no logprobs.</param>
/// <param name="Rank">1 + number of tokens with a higher raw logprob; null when no logprobs were asked for.</param>
/// <param name="TopLogprobs">The request's top-N raw logprobs, highest first (may or may not include the chosen token); empty when N is 0 or null.</param>
public sealed record SampleOutput(int TokenId, float? Logprob, int? Rank, IReadOnlyList<TokenLogprob> TopLogprobs);
