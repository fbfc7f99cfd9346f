using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Runtime;
using InferenceServer.Engine.Sampling;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Runner;

/// <summary>Log-probabilities of the prompt's own tokens (OpenAI completions with echo + logprobs).</summary>
internal static class PromptLogprobs
{
    /// <summary>
    /// Row j of <paramref name="logits"/> [n, V] is the prediction after the token at position start + j; it scores
    /// the prompt token at start + j + 1 (rows past the prompt's end score nothing).
    /// </summary>
    public static IEnumerable<OutputLogprob?> Compute(Tensor logits, IReadOnlyList<int> tokens, int promptLength, int start, int topN)
    {
        using var scope = NewDisposeScope();
        int n = (int)logits.shape[0];
        int scored = Math.Min(n, promptLength - 1 - start);
        if (scored <= 0) return [];
        var lp = logits.narrow(0, 0, scored).log_softmax(-1);                           // [scored, V]
        var targets = tensor(Enumerable.Range(start + 1, scored).Select(p => (long)tokens[p]).ToArray(), device: lp.device);
        var chosen = lp.gather(1, targets.unsqueeze(1)).squeeze(1);                      // [scored]
        var rank = Scalars.Add((lp > chosen.unsqueeze(1)).sum(1), ones_like(chosen, ScalarType.Int64));   // [scored]
        var chosenHost = chosen.cpu().data<float>().ToArray();
        var rankHost = rank.cpu().data<long>().ToArray();
        float[] topVals = [];
        long[] topIds = [];
        int k = Math.Min(topN, (int)lp.shape[1]);
        if (k > 0)
        {
            var (v, i) = lp.topk(k, 1);
            topVals = v.cpu().data<float>().ToArray();
            topIds = i.cpu().data<long>().ToArray();
        }
        var result = new OutputLogprob?[scored];
        for (int j = 0; j < scored; j++)
        {
            var top = new TokenLogprob[k];
            for (int t = 0; t < k; t++) top[t] = new TokenLogprob((int)topIds[j * k + t], topVals[j * k + t]);
            result[j] = new OutputLogprob(tokens[start + 1 + j], chosenHost[j], (int)rankHost[j], top);
        }
        return result;
    }
}
