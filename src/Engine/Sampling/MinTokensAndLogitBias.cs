using InferenceServer.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Sampling;

/// <summary>
/// vLLM's non-argmax-invariant logits processors, applied before penalties: min_tokens (EOS and stop ids → −inf
/// while the output is shorter than min_tokens), then logit_bias (added). Both are one indexed op over the
/// flattened [B·V] logits, with indices precomputed on the host by <see cref="SamplingBatchPlan"/>.
/// </summary>
internal static class MinTokensAndLogitBias
{
    /// <summary>Modifies <paramref name="logits"/> ([B, V] float32, contiguous) in place.</summary>
    public static void Apply(Tensor logits, SamplingBatchPlan plan)
    {
        var device = logits.device;
        var flat = logits.view(-1);                                                                  // [B·V]
        if (plan.MinTokensMaskedFlatIndices.Count > 0)
        {
            var index = HostToDevice.Copy(plan.MinTokensMaskedFlatIndices.ToArray(), device);
            flat.index_fill_(0, index, Scalars.NegInfF);
        }
        if (plan.LogitBiasFlatIndices.Count > 0)
        {
            var index = HostToDevice.Copy(plan.LogitBiasFlatIndices.ToArray(), device);
            var values = HostToDevice.Copy(plan.LogitBiasValues.ToArray(), device);
            flat.index_add_(0, index, values, Scalars.OneF);
        }
    }
}
