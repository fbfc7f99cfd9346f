using InferenceServer.Engine.Sampling;
using InferenceServer.StructuredOutputs;

namespace InferenceServer.Server.Constraints;

/// <summary>A compiled structured-output grammar as the engine's <see cref="ILogitsConstraint"/>.</summary>
public sealed class GrammarConstraint(TokenGrammar grammar) : ILogitsConstraint
{
    public TokenGrammar Grammar => grammar;

    public string Description => grammar.Description;

    public ILogitsConstraintState Start() => new State(grammar.NewMatcher());

    private sealed class State(GrammarMatcher matcher) : ILogitsConstraintState
    {
        public bool CanEnd => matcher.CanEnd;

        public bool TryAdvance(int tokenId) => matcher.TryAdvance(tokenId);

        public void WriteAllowed(Span<uint> mask, int? remainingTokens) => matcher.WriteAllowed(mask, remainingTokens);
    }
}
