namespace InferenceServer.Engine.Sampling;

/// <summary>
/// A constraint on a request's output (structured outputs: a JSON Schema, a regex, a set of choices), compiled for
/// the model's vocabulary. Immutable and shareable between requests; each request gets its own state from
/// <see cref="Start"/>. The engine knows nothing of how the language is described, only which tokens it allows.
/// </summary>
public interface ILogitsConstraint
{
    /// <summary>What is constrained, for messages ("json_schema", "regex '…'").</summary>
    string Description { get; }

    /// <summary>A state at the start of the output.</summary>
    ILogitsConstraintState Start();
}

/// <summary>One request's position in an <see cref="ILogitsConstraint"/>. Used only by the engine thread.</summary>
public interface ILogitsConstraintState
{
    /// <summary>The output so far is complete: end-of-sequence (EOS and stop token ids) may follow.</summary>
    bool CanEnd { get; }

    /// <summary>Moves past <paramref name="tokenId"/>; false (no move) when the constraint does not allow it.</summary>
    bool TryAdvance(int tokenId);

    /// <summary>
    /// Writes the allowed tokens as a bitmask (bit i of word i/32 = token i) over ⌈V/32⌉ words, end-of-sequence
    /// tokens excluded (the sampler adds them when <see cref="CanEnd"/>).
    /// </summary>
    /// <param name="remainingTokens">Tokens the request may still generate, this one included (null = no limit):
    /// the constraint then allows only tokens after which the output can still be completed in time.</param>
    void WriteAllowed(Span<uint> mask, int? remainingTokens);
}
