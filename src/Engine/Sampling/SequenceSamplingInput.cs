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
    SequenceRandomState? RandomState = null)
{
    private (SamplingParams For, int Vocab, float[] Values)? _columns;   // keyed, since `with` copies it
    private (ILogitsConstraint For, ConstraintCursor Cursor)? _constraint;

    /// <summary>The row's position in its constraint, made on first use and kept for the request's life; null when unconstrained.</summary>
    internal ConstraintCursor? Constraint
    {
        get
        {
            if (Parameters.Constraint is not { } c) return null;
            if (_constraint is not { } k || !ReferenceEquals(k.For, c)) _constraint = k = (c, new ConstraintCursor(c));
            return k.Cursor;
        }
    }

    /// <summary>
    /// This row's slots of the sampler's per-row table (<see cref="RowParameterColumns"/>), computed once: the model
    /// runner keeps one input per request for its whole life, so a step copies them instead of recomputing them.
    /// </summary>
    internal ReadOnlySpan<float> Columns(int vocabSize)
    {
        if (_columns is not { } c || !ReferenceEquals(c.For, Parameters) || c.Vocab != vocabSize)
        {
            var values = new float[RowParameterColumns.Count];
            RowParameterColumns.Write(values, 0, Parameters, vocabSize);
            _columns = c = (Parameters, vocabSize, values);
        }
        return c.Values;
    }
}
