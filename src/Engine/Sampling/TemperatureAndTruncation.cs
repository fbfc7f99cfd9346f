using InferenceServer.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Sampling;

/// <summary>
/// The argmax-invariant stages that only matter for random sampling, in vLLM's order: divide by temperature,
/// min-p, then top-k and top-p from one descending sort. Removed tokens become −inf.
/// </summary>
internal static class TemperatureAndTruncation
{
    /// <summary>
    /// Returns the sampling logits [B, V] float32 (may be <paramref name="logits"/>, modified in place).
    /// Greedy rows carry neutral settings in <paramref name="rowTable"/> and are not truncated.
    /// </summary>
    public static Tensor Apply(Tensor logits, SamplingBatchPlan plan, Tensor rowTable)
    {
        if (plan.UniformSampledTemperature is float t)
        {
            // One scalar op when all sampled rows agree (greedy rows' values are discarded later).
            if (t != 1f)
            {
                using var divisor = t.ToScalar(); // disposed (not finalized) only after the op has read it
                logits.div_(divisor);
            }
        }
        else
        {
            logits.div_(RowParameterColumns.Column(rowTable, RowParameterColumns.Temperature));
        }

        if (plan.AnyMinP)
        {
            // p_i < min_p · p_max  ⇔  logit_i < logit_max + log(min_p): no softmax needed.
            var threshold = logits.amax([-1], keepdim: true)
                .add_(RowParameterColumns.Column(rowTable, RowParameterColumns.LogMinP), Scalars.OneF);             // [B, 1]
            logits.masked_fill_(logits.lt(threshold), Scalars.NegInfF);
        }

        if (plan.AnyTopK || plan.AnyTopP)
            logits = TopKTopP(logits, plan, rowTable);
        return logits;
    }

    private static Tensor TopKTopP(Tensor logits, SamplingBatchPlan plan, Tensor rowTable)
    {
        var (sorted, order) = logits.sort(-1, descending: true);                                      // [B, V] each
        if (plan.AnyTopK)
        {
            // Keep everything ≥ the k-th largest logit (ties at the boundary are kept, as in vLLM).
            var kthIndex = RowParameterColumns.Column(rowTable, RowParameterColumns.TopK)
                .to_type(ScalarType.Int64).sub_(Scalars.OneL);                                                  // [B, 1]
            var kth = sorted.gather(1, kthIndex);                                                    // [B, 1]
            sorted.masked_fill_(sorted.lt(kth), Scalars.NegInfF);
        }
        if (plan.AnyTopP)
        {
            // Drop a token when the mass of the tokens ranked above it already reaches top_p; the first token
            // has zero mass above it, so at least one always survives. Probabilities are renormalised after top-k.
            var probs = sorted.softmax(-1);                                                         // [B, V]
            var massAbove = probs.cumsum(-1).sub_(probs);                                             // [B, V]
            sorted.masked_fill_(
                massAbove.ge(RowParameterColumns.Column(rowTable, RowParameterColumns.TopPThreshold)),
                Scalars.NegInfF);
        }
        // Undo the sort: out[b, order[b, j]] = sorted[b, j].
        return sorted.scatter(1, order, sorted);
    }
}
