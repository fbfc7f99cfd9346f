using InferenceServer.Engine.Batching;
using InferenceServer.Engine.KvCache;
using InferenceServer.Engine.Models;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Evaluation;

/// <summary>Result of the perplexity protocol: exp(mean NLL) over <see cref="Tokens"/> scored predictions.</summary>
public sealed record PerplexityResult(double Perplexity, long Tokens, double MeanNll);

/// <summary>
/// The project's perplexity protocol: one token stream (each text line encoded as BOS + tokens + EOS, concatenated),
/// cut into windows of <c>windowSize + 1</c> tokens that overlap by one; each window starts from an empty context
/// and scores its <c>windowSize</c> next-token predictions.
/// </summary>
public static class Perplexity
{
    public const int DefaultWindowSize = 256;
    public const int DefaultMaxWindows = 48;

    /// <summary>Builds the stream: for each line, BOS + encode(line) + EOS.</summary>
    public static List<int> BuildStream(IEnumerable<string> lines, Func<string, IReadOnlyList<int>> encodeWithoutSpecials, int bos, int eos)
    {
        var stream = new List<int>();
        foreach (var line in lines)
        {
            stream.Add(bos);
            stream.AddRange(encodeWithoutSpecials(line));
            stream.Add(eos);
        }
        return stream;
    }

    /// <param name="windowsPerBatch">Windows forwarded together; more is faster on GPUs, costs memory on CPUs.</param>
    /// <param name="progress">Called with (windows done, windows total).</param>
    public static PerplexityResult Evaluate(ICausalLM model, IReadOnlyList<int> stream, int windowSize = DefaultWindowSize,
        int maxWindows = DefaultMaxWindows, int windowsPerBatch = 4, Action<int, int>? progress = null)
    {
        int windows = Math.Min(maxWindows, (stream.Count - 1) / windowSize);
        if (windows < 1)
            throw new ArgumentException($"the text holds {stream.Count} tokens; the protocol needs at least {windowSize + 1}.");
        const int blockSize = 16;
        int blocksPerWindow = (windowSize + blockSize - 1) / blockSize;
        var c = model.Config;
        using var cache = new KvCachePool(c.NumLayers, blocksPerWindow * windowsPerBatch, blockSize, c.NumKvHeads, c.HeadDim, model.Dtype, model.Device);
        double nllSum = 0;
        long count = 0;
        for (int w0 = 0; w0 < windows; w0 += windowsPerBatch)
        {
            int n = Math.Min(windowsPerBatch, windows - w0);
            var chunks = new List<SequenceChunk>(n);
            var targets = new long[n * windowSize];
            for (int j = 0; j < n; j++)
            {
                int start = (w0 + j) * windowSize;
                var input = new int[windowSize];
                for (int t = 0; t < windowSize; t++)
                {
                    input[t] = stream[start + t];
                    targets[j * windowSize + t] = stream[start + t + 1];
                }
                var blocks = Enumerable.Range(j * blocksPerWindow, blocksPerWindow).ToArray();
                chunks.Add(new SequenceChunk(input, 0, blocks, AllLogits: true));
            }
            using var scope = NewDisposeScope();
            using var batch = ForwardBatchBuilder.Build(chunks, blockSize, model.Device);
            var logits = model.Forward(batch, cache);                                  // [n·W, V] float32
            var logProbs = logits.log_softmax(-1);
            var target = tensor(targets, device: model.Device).unsqueeze(1);
            var nll = -logProbs.gather(1, target).squeeze(1).to(ScalarType.Float64);
            nllSum += nll.sum().item<double>();
            count += targets.Length;
            progress?.Invoke(w0 + n, windows);
        }
        double mean = nllSum / count;
        return new PerplexityResult(Math.Exp(mean), count, mean);
    }
}
