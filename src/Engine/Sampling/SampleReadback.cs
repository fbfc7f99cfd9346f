using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Sampling;

/// <summary>
/// Packs the chosen ids (and, when asked for, raw logprobs) into one tensor so that a single device→host copy brings
/// a step's samples back: the ids alone as int64 [B], or everything as float64 [B, 3 + 2N] (ids and ranks are exact
/// in float64); and unpacks that copy into <see cref="SampleOutput"/>s.
/// </summary>
internal static class SampleReadback
{
    /// <param name="tokenIds">[B] int64 chosen ids.</param>
    /// <param name="rawLogprobs">[B, V] float32 log_softmax of the raw logits, or null when no row asked for logprobs.</param>
    public static Tensor Pack(Tensor tokenIds, Tensor? rawLogprobs, SamplingBatchPlan plan)
    {
        if (rawLogprobs is null)
            return tokenIds.view(-1);

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
        return torch.cat(parts, 1);                                                                   // [B, 3 + 2N]
    }

    /// <param name="host">What <see cref="Pack"/> returned, on the host.</param>
    public static SampleOutput[] Unpack(Tensor host, SamplingBatchPlan plan, IReadOnlyList<SequenceSamplingInput> rows)
    {
        if (host.dtype == ScalarType.Int64)
            return host.data<long>().ToArray().Select(id => new SampleOutput((int)id, null, null, [])).ToArray();

        var n = plan.MaxTopLogprobs;
        var width = 3 + 2 * n;
        var values = host.data<double>().ToArray();                                                 // [B · width]
        var outputs = new SampleOutput[rows.Count];
        for (var row = 0; row < rows.Count; row++)
        {
            var o = row * width;
            var tokenId = (int)values[o];
            if (rows[row].Parameters.Logprobs is not int wanted)
            {
                outputs[row] = new SampleOutput(tokenId, null, null, []);
                continue;
            }
            var top = new TokenLogprob[Math.Min(wanted, n)];
            for (var j = 0; j < top.Length; j++)
                top[j] = new TokenLogprob((int)values[o + 3 + j], (float)values[o + 3 + n + j]);
            outputs[row] = new SampleOutput(tokenId, (float)values[o + 1], 1 + (int)values[o + 2], top);
        }
        return outputs;
    }
}
