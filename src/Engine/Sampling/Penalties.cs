using InferenceServer.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Sampling;

/// <summary>
/// Repetition (vLLM/HF: prompt ∪ output tokens; logit &gt; 0 → logit / p, else logit · p), then frequency and
/// presence (OpenAI: output tokens only; logit −= freq · count + presence · [count &gt; 0]), as batched [B, V] ops.
/// </summary>
internal static class Penalties
{
    /// <summary>Returns the penalised logits ([B, V] float32); may be <paramref name="logits"/> itself, modified in place.</summary>
    public static Tensor Apply(Tensor logits, SamplingBatchPlan plan, IReadOnlyList<SequenceSamplingInput> rows, Tensor rowTable)
    {
        var vocab = plan.VocabSize;
        var device = logits.device;
        if (plan.AnyRepetitionPenalty)
        {
            // Only rows with a penalty contribute ids: the rest keep factor 1 anyway.
            var seenIds = rows.Select(r => r.Parameters.HasRepetitionPenalty ? r.PromptTokenIds.Concat(r.OutputTokenIds) : null).ToArray();
            var seen = TokenCounts.Build(seenIds, vocab, device).gt(Scalars.ZeroL);                  // [B, V] bool
            var factor = seen.to_type(ScalarType.Float32)
                .mul_(RowParameterColumns.Column(rowTable, RowParameterColumns.RepetitionMinusOne))
                .add_(Scalars.OneF, Scalars.OneF);                                                                           // [B, V]
            logits = torch.where(logits.gt(Scalars.ZeroF), logits / factor, logits * factor);
        }
        if (plan.AnyFrequencyOrPresencePenalty)
        {
            var outputIds = rows.Select(r => r.Parameters.HasFrequencyOrPresencePenalty ? r.OutputTokenIds : null).ToArray();
            var counts = TokenCounts.Build(outputIds, vocab, device);                                  // [B, V]
            var frequency = RowParameterColumns.Column(rowTable, RowParameterColumns.Frequency);        // [B, 1]
            var presence = RowParameterColumns.Column(rowTable, RowParameterColumns.Presence);          // [B, 1]
            logits.sub_(counts * frequency).sub_(counts.gt(Scalars.ZeroF).to_type(ScalarType.Float32).mul_(presence));
        }
        return logits;
    }
}
