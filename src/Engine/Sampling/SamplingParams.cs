namespace InferenceServer.Engine.Sampling;

/// <summary>
/// Per-request sampling settings with vLLM / OpenAI semantics. Immutable; build with an object initializer.
/// </summary>
/// <remarks>
/// Order in which the <see cref="Sampler"/> applies them (vLLM v1): min_tokens masking and logit_bias →
/// repetition/frequency/presence penalties → greedy argmax if temperature is 0, else temperature → min_p →
/// top_k/top_p → random draw. Logprobs are always those of the raw model logits (vLLM's default
/// <c>raw_logprobs</c> mode), not of the processed distribution.
/// </remarks>
public sealed record SamplingParams
{
    /// <summary>vLLM's limit below which a temperature counts as greedy (its <c>_SAMPLING_EPS</c>).</summary>
    public const float GreedyEpsilon = 1e-5f;

    /// <summary>
    /// vLLM raises temperatures in (0, 0.01) to 0.01: smaller ones overflow logits/T to inf and give NaN probabilities.
    /// </summary>
    public const float MinSampledTemperature = 0.01f;

    /// <summary>OpenAI's documented logit_bias range; vLLM's OpenAI layer clamps (not rejects) to it, and so does the sampler.</summary>
    public const float MaxAbsLogitBias = 100f;

    /// <summary>
    /// Smallest accepted repetition_penalty. vLLM only requires &gt; 0, but the sampler divides positive logits of seen
    /// tokens by it in float32: a value like 1e-38 turns them into +inf and the row into NaN (degenerate output).
    /// 1e-6 keeps any real logit finite even after the 0.01 temperature floor, and is far below any useful penalty.
    /// </summary>
    public const float MinRepetitionPenalty = 1e-6f;

    public static SamplingParams Greedy { get; } = new() { Temperature = 0f };

    /// <summary>Softmax temperature. 0 (below <see cref="GreedyEpsilon"/>) = greedy. vLLM rule: any finite value ≥ 0 (no upper cap of 2 as OpenAI has).</summary>
    public float Temperature { get; init; } = 1f;

    /// <summary>Nucleus sampling: keep the smallest set of most likely tokens whose mass reaches TopP. Range (0, 1]; 1 = off.</summary>
    public float TopP { get; init; } = 1f;

    /// <summary>Keep only the K most likely tokens. 0 or -1 = off; otherwise ≥ 1 (values above the vocabulary size mean off).</summary>
    public int TopK { get; init; }

    /// <summary>Drop tokens whose probability is below MinP × the top token's probability. Range [0, 1]; 0 = off.</summary>
    public float MinP { get; init; }

    /// <summary>
    /// vLLM/HF repetition penalty over tokens seen in the prompt OR the output: a positive logit is divided by it,
    /// a non-positive one multiplied. At least <see cref="MinRepetitionPenalty"/>; 1 = off.
    /// </summary>
    public float RepetitionPenalty { get; init; } = 1f;

    /// <summary>OpenAI presence penalty over OUTPUT tokens: logit -= PresencePenalty if the token occurred. Range [-2, 2].</summary>
    public float PresencePenalty { get; init; }

    /// <summary>OpenAI frequency penalty over OUTPUT tokens: logit -= FrequencyPenalty × count. Range [-2, 2].</summary>
    public float FrequencyPenalty { get; init; }

    /// <summary>Token id → value added to its logit (clamped to ±<see cref="MaxAbsLogitBias"/>). Null or empty = none.</summary>
    public IReadOnlyDictionary<int, float>? LogitBias { get; init; }

    /// <summary>Seed for this request's own random stream: the same seed gives the same tokens whatever else shares the batch.</summary>
    public long? Seed { get; init; }

    /// <summary>Maximum number of generated tokens; null = up to the context limit (the server decides). ≥ 1 when set.</summary>
    public int? MaxTokens { get; init; }

    /// <summary>EOS and <see cref="StopTokenIds"/> are masked to -inf until this many tokens have been generated.</summary>
    public int MinTokens { get; init; }

    /// <summary>Stop strings (the detokenizer checks them, not the sampler). None may be empty.</summary>
    public IReadOnlyList<string> Stop { get; init; } = [];

    /// <summary>Token ids that end generation like EOS does (checked by the engine; masked by min_tokens).</summary>
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];

    /// <summary>Keep generating past EOS (stop checking concern; the sampler does not mask EOS for it, as in vLLM).</summary>
    public bool IgnoreEos { get; init; }

    /// <summary>Number of top alternatives to return with each token; 0 = only the chosen token's logprob; null = no logprobs.</summary>
    public int? Logprobs { get; init; }

    /// <summary>
    /// Structured outputs: only tokens this constraint allows are sampled (applied to the logits before everything
    /// else, so logprobs are those of the constrained distribution, as in vLLM), and EOS/stop ids only once the output
    /// is complete. min_tokens does not apply to a constrained request. Null = unconstrained.
    /// </summary>
    public ILogitsConstraint? Constraint { get; init; }

    /// <summary>Drop special tokens when detokenizing.</summary>
    public bool SkipSpecialTokens { get; init; } = true;

    /// <summary>The repetition penalty is on: it counts the tokens of the prompt and the output so far.</summary>
    public bool HasRepetitionPenalty => RepetitionPenalty != 1f;

    /// <summary>A frequency or presence penalty is on: they count the output's tokens so far.</summary>
    public bool HasFrequencyOrPresencePenalty => FrequencyPenalty != 0f || PresencePenalty != 0f;

    /// <summary>True when the sampler takes the argmax (temperature below <see cref="GreedyEpsilon"/>).</summary>
    public bool IsGreedy => Temperature < GreedyEpsilon;

    /// <summary>The temperature the sampler divides by for a non-greedy row (vLLM's floor of 0.01 applied).</summary>
    public float EffectiveTemperature => IsGreedy ? 1f : MathF.Max(Temperature, MinSampledTemperature);

    /// <summary>
    /// Checks every field against vLLM's rules (vLLM SamplingParams._verify_args, plus vocabulary bounds for token ids)
    /// and throws <see cref="SamplingParamsException"/> naming the first bad OpenAI field.
    /// </summary>
    /// <param name="vocabSize">Rows of the model's logits; token ids must be below it.</param>
    /// <param name="maxLogprobs">Server limit on <see cref="Logprobs"/> (vLLM's default max_logprobs is 20).</param>
    public void Validate(int vocabSize, int maxLogprobs = 20)
    {
        if (!float.IsFinite(Temperature) || Temperature < 0)
            throw new SamplingParamsException("temperature", $"temperature must be a finite number >= 0, got {Temperature}.");
        if (!(TopP > 0 && TopP <= 1))
            throw new SamplingParamsException("top_p", $"top_p must be in (0, 1], got {TopP}.");
        if (TopK < -1)
            throw new SamplingParamsException("top_k", $"top_k must be 0 or -1 (disabled), or at least 1, got {TopK}.");
        if (!(MinP >= 0 && MinP <= 1))
            throw new SamplingParamsException("min_p", $"min_p must be in [0, 1], got {MinP}.");
        if (!float.IsFinite(RepetitionPenalty) || RepetitionPenalty < MinRepetitionPenalty)
            throw new SamplingParamsException("repetition_penalty",
                $"repetition_penalty must be a finite number >= {MinRepetitionPenalty:0.######} (1 = off, < 1 favours repeats, > 1 penalises them), got {RepetitionPenalty}.");
        if (!(PresencePenalty >= -2 && PresencePenalty <= 2))
            throw new SamplingParamsException("presence_penalty", $"presence_penalty must be in [-2, 2], got {PresencePenalty}.");
        if (!(FrequencyPenalty >= -2 && FrequencyPenalty <= 2))
            throw new SamplingParamsException("frequency_penalty", $"frequency_penalty must be in [-2, 2], got {FrequencyPenalty}.");
        if (MaxTokens is < 1)
            throw new SamplingParamsException("max_tokens", $"max_tokens must be at least 1, got {MaxTokens}.");
        if (MinTokens < 0)
            throw new SamplingParamsException("min_tokens", $"min_tokens must be >= 0, got {MinTokens}.");
        if (MaxTokens is int max && MinTokens > max)
            throw new SamplingParamsException("min_tokens", $"min_tokens ({MinTokens}) must be <= max_tokens ({max}).");
        if (Logprobs is int n && (n < 0 || n > maxLogprobs || n > vocabSize))
            throw new SamplingParamsException("logprobs", $"logprobs must be in [0, {Math.Min(maxLogprobs, vocabSize)}], got {n}.");
        if (Stop.Any(string.IsNullOrEmpty))
            throw new SamplingParamsException("stop", "stop cannot contain an empty string.");
        foreach (var id in StopTokenIds)
        {
            if (id < 0 || id >= vocabSize)
                throw new SamplingParamsException("stop_token_ids", $"stop token id {id} is outside the vocabulary [0, {vocabSize}).");
        }
        if (LogitBias != null)
        {
            foreach (var (id, bias) in LogitBias)
            {
                if (id < 0 || id >= vocabSize)
                    throw new SamplingParamsException("logit_bias", $"logit_bias token id {id} is outside the vocabulary [0, {vocabSize}).");
                if (!float.IsFinite(bias))
                    throw new SamplingParamsException("logit_bias", $"logit_bias for token {id} must be a finite number, got {bias}.");
            }
        }
    }
}
