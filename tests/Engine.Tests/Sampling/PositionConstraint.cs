using InferenceServer.Engine.Sampling;

namespace InferenceServer.Engine.Tests.Sampling;

/// <summary>
/// A stand-in <see cref="ILogitsConstraint"/>: position i allows the tokens in allowed[i]; the output may end after
/// allowed.Length tokens, and nothing follows.
/// </summary>
internal sealed class PositionConstraint(int[][] allowed) : ILogitsConstraint
{
    public string Description => "positions";

    public int[][] Allowed => allowed;

    public int Starts { get; private set; }

    public ILogitsConstraintState Start()
    {
        Starts++;
        return new State(allowed);
    }

    private sealed class State(int[][] allowed) : ILogitsConstraintState
    {
        public int Position { get; private set; }

        public bool CanEnd => Position == allowed.Length;

        public bool TryAdvance(int tokenId)
        {
            if (Position >= allowed.Length || !allowed[Position].Contains(tokenId)) return false;
            Position++;
            return true;
        }

        public void WriteAllowed(Span<uint> mask, int? remainingTokens)
        {
            if (Position >= allowed.Length) return;
            foreach (var id in allowed[Position]) mask[id >> 5] |= 1u << (id & 31);
        }
    }
}
