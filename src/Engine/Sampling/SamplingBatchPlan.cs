namespace InferenceServer.Engine.Sampling;

/// <summary>
/// Host-side digest of one step's rows: which processing stages any row needs (so stages nobody uses cost
/// no tensor ops), the per-row numeric table, and the flat [B·V] indices for min_tokens masking and logit bias.
/// </summary>
internal sealed class SamplingBatchPlan
{
    private SamplingBatchPlan(int batchSize, int vocabSize)
    {
        BatchSize = batchSize;
        VocabSize = vocabSize;
        RowTable = new float[batchSize * RowParameterColumns.Count];
    }

    public int BatchSize { get; }

    public int VocabSize { get; }

    /// <summary>[B × RowParameterColumns.Count] row-major, see <see cref="RowParameterColumns"/>.</summary>
    public float[] RowTable { get; }

    public bool AllGreedy { get; private set; } = true;

    public bool AnyGreedy { get; private set; }

    public bool AnyRepetitionPenalty { get; private set; }

    public bool AnyFrequencyOrPresencePenalty { get; private set; }

    public bool AnyMinP { get; private set; }

    public bool AnyTopK { get; private set; }

    public bool AnyTopP { get; private set; }

    /// <summary>The temperature shared by every sampled row, or null when they differ (then the [B,1] column is used).</summary>
    public float? UniformSampledTemperature { get; private set; }

    /// <summary>Rows that asked for logprobs; and the largest N among them (0 = only chosen tokens).</summary>
    public bool AnyLogprobs { get; private set; }

    public int MaxTopLogprobs { get; private set; }

    /// <summary>row·V + token for every token forced to −inf by min_tokens.</summary>
    public List<long> MinTokensMaskedFlatIndices { get; } = [];

    /// <summary>row·V + token for every logit_bias entry, with its (clamped) bias in <see cref="LogitBiasValues"/>.</summary>
    public List<long> LogitBiasFlatIndices { get; } = [];

    public List<float> LogitBiasValues { get; } = [];

    /// <summary>Constraint bitmask [B × <see cref="ConstraintWords"/>] (all ones for unconstrained rows), or null when no row is constrained.</summary>
    public uint[]? ConstraintBits { get; private set; }

    public int ConstraintWords => (VocabSize + 31) / 32;

    /// <summary>Any stage that changes the logits before the greedy/sampled split.</summary>
    public bool NeedsLogitProcessing =>
        AnyRepetitionPenalty || AnyFrequencyOrPresencePenalty || MinTokensMaskedFlatIndices.Count > 0 || LogitBiasFlatIndices.Count > 0;

    public static SamplingBatchPlan Build(IReadOnlyList<SequenceSamplingInput> rows, int vocabSize, IReadOnlyCollection<int> eosTokenIds)
    {
        var plan = new SamplingBatchPlan(rows.Count, vocabSize);
        var sampledTemperatures = new HashSet<float>();
        for (var row = 0; row < rows.Count; row++)
        {
            var input = rows[row];
            var p = input.Parameters;
            input.Columns(vocabSize).CopyTo(plan.RowTable.AsSpan(row * RowParameterColumns.Count));

            if (p.IsGreedy)
            {
                plan.AnyGreedy = true;
            }
            else
            {
                plan.AllGreedy = false;
                sampledTemperatures.Add(p.EffectiveTemperature);
                plan.AnyMinP |= p.MinP > 0;
                plan.AnyTopK |= p.TopK > 0 && p.TopK < vocabSize;
                plan.AnyTopP |= p.TopP < 1f;
                if (p.Seed != null && input.RandomState == null)
                    throw new ArgumentException($"Row {row} has a seed but no {nameof(SequenceRandomState)}.", nameof(rows));
            }

            plan.AnyRepetitionPenalty |= p.HasRepetitionPenalty;
            plan.AnyFrequencyOrPresencePenalty |= p.HasFrequencyOrPresencePenalty;
            if (p.Logprobs is int n)
            {
                plan.AnyLogprobs = true;
                plan.MaxTopLogprobs = Math.Max(plan.MaxTopLogprobs, Math.Min(n, vocabSize));
            }

            long rowOffset = (long)row * vocabSize;
            if (input.Constraint is { } constraint)
                plan.WriteConstraintRow(row, constraint, input, eosTokenIds);
            else if (input.OutputTokenIds.Count < p.MinTokens)
            {
                foreach (var id in eosTokenIds.Concat(p.StopTokenIds).Distinct())
                {
                    if (id >= 0 && id < vocabSize)
                        plan.MinTokensMaskedFlatIndices.Add(rowOffset + id);
                }
            }
            if (p.LogitBias != null)
            {
                foreach (var (id, bias) in p.LogitBias)
                {
                    plan.LogitBiasFlatIndices.Add(rowOffset + id);
                    plan.LogitBiasValues.Add(Math.Clamp(bias, -SamplingParams.MaxAbsLogitBias, SamplingParams.MaxAbsLogitBias));
                }
            }
        }
        plan.UniformSampledTemperature = sampledTemperatures.Count == 1 ? sampledTemperatures.First() : null;
        return plan;
    }

    /// <summary>Brings the row's constraint up to its output and writes its allowed tokens (EOS and stop ids end it).</summary>
    private void WriteConstraintRow(int row, ConstraintCursor constraint, SequenceSamplingInput input, IReadOnlyCollection<int> eosTokenIds)
    {
        if (ConstraintBits is null)
        {
            ConstraintBits = new uint[BatchSize * ConstraintWords];
            Array.Fill(ConstraintBits, uint.MaxValue);
        }
        var p = input.Parameters;
        IReadOnlyCollection<int> endTokens = p.StopTokenIds.Count == 0 ? eosTokenIds : [.. eosTokenIds, .. p.StopTokenIds];
        constraint.Sync(input.OutputTokenIds, endTokens);
        int? remaining = p.MaxTokens is int max ? max - input.OutputTokenIds.Count : null;
        constraint.WriteRow(ConstraintBits.AsSpan(row * ConstraintWords, ConstraintWords), remaining, endTokens);
    }
}
