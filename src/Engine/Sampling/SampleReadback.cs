using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Sampling;

/// <summary>
/// Turns the chosen ids (and, when asked for, raw logprobs) into <see cref="SampleOutput"/>s with a single
/// device→host copy: everything is packed into one float64 [B, 3 + 2N] tensor (ids and ranks are exact in float64).
/// </summary>
internal static class SampleReadback
{
    /// <param name="tokenIds">[B] int64 chosen ids.</param>
    /// <param name="rawLogprobs">[B, V] float32 log_softmax of the raw logits, or null when no row asked for logprobs.</param>
    public static SampleOutput[] Read(Tensor tokenIds, Tensor? rawLogprobs, SamplingBatchPlan plan, IReadOnlyList<SequenceSamplingInput> rows)
    {
        if (rawLogprobs is null)
        {
            var ids = tokenIds.cpu().data<long>().ToArray();
            return ids.Select(id => new SampleOutput((int)id, null, null, [])).ToArray();
        }

        var n = plan.MaxTopLogprobs;
        var chosenIds = tokenIds.unsqueeze(1);                                                       // [B, 1]
        var chosenLogprobs = rawLogprobs.gather(1, chosenIds);                                       // [B, 1]
        var higher = rawLogprobs.gt(chosenLogprobs).sum(1, keepdim: true, type: ScalarType.Int64);   // [B, 1]
        var parts = new List<Tensor>
        {
            chosenIds.to_type(ScalarType.Float64),
            chosenLogprobs.to_type(ScalarType.Float64),
            higher.to_type(ScalarType.Float64),
        };
        if (n > 0)
        {
            var (topValues, topIds) = rawLogprobs.topk(n, dim: 1);                                  // [B, N] each, descending
            parts.Add(topIds.to_type(ScalarType.Float64));
            parts.Add(topValues.to_type(ScalarType.Float64));
        }
        var width = 3 + 2 * n;
        var host = torch.cat(parts, 1).cpu().data<double>().ToArray();                              // [B · width]

        var outputs = new SampleOutput[rows.Count];
        for (var row = 0; row < rows.Count; row++)
        {
            var o = row * width;
            var tokenId = (int)host[o];
            if (rows[row].Parameters.Logprobs is not int wanted)
            {
                outputs[row] = new SampleOutput(tokenId, null, null, []);
                continue;
            }
            var top = new TokenLogprob[Math.Min(wanted, n)];
            for (var j = 0; j < top.Length; j++)
                top[j] = new TokenLogprob((int)host[o + 3 + j], (float)host[o + 3 + n + j]);
            outputs[row] = new SampleOutput(tokenId, (float)host[o + 1], 1 + (int)host[o + 2], top);
        }
        return outputs;
    }
}
