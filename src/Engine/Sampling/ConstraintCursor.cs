namespace InferenceServer.Engine.Sampling;

/// <summary>
/// Keeps a row's <see cref="ILogitsConstraintState"/> in step with its output: before each mask it is advanced over
/// the tokens sampled since the last one, which must be on the host by then (a constrained request makes the engine
/// read each step back before launching the next, see ModelRunner). After end-of-sequence (kept going by ignore_eos)
/// or a token the constraint refuses, only end-of-sequence tokens are allowed.
/// </summary>
internal sealed class ConstraintCursor(ILogitsConstraint constraint)
{
    private ILogitsConstraintState _state = constraint.Start();
    private int _consumed;
    private bool _ended;

    /// <summary>Advances over <paramref name="output"/>[consumed..]; a shorter output (a fresh copy) starts over.</summary>
    public void Sync(IReadOnlyList<int> output, IReadOnlyCollection<int> endTokens)
    {
        if (output.Count < _consumed) (_state, _consumed, _ended) = (constraint.Start(), 0, false);
        for (; _consumed < output.Count; _consumed++)
        {
            int token = output[_consumed];
            if (token < 0)
                throw new InvalidOperationException($"a {constraint.Description} row is sampled before its previous token reached the host");
            if (_ended) continue;
            if (endTokens.Contains(token) && _state.CanEnd) _ended = true;
            else if (!_state.TryAdvance(token)) _ended = true;
        }
    }

    /// <summary>Writes the row's allowed tokens, end-of-sequence ones included when the output may end.</summary>
    public void WriteRow(Span<uint> row, int? remainingTokens, IReadOnlyCollection<int> endTokens)
    {
        row.Clear();
        bool canEnd = _ended || _state.CanEnd;
        if (!_ended) _state.WriteAllowed(row, remainingTokens);
        // A row with nothing allowed would be all −inf (no distribution): it may end instead.
        if (canEnd || !row.ContainsAnyExcept(0u))
            foreach (var id in endTokens)
                if (id >= 0 && id < row.Length * 32) row[id >> 5] |= 1u << (id & 31);
    }
}
