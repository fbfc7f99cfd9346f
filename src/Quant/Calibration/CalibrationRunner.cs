using InferenceServer.Engine.Models.Architectures;
using InferenceServer.Engine.Batching;
using InferenceServer.Engine.KvCache;
using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models;
using static TorchSharp.torch;

namespace InferenceServer.Quant.Calibration;

/// <summary>
/// Runs the full-precision model over calibration text and records, for every linear layer, max |X| per input
/// channel (SmoothQuant's calibration). The text is one token stream cut into consecutive windows of
/// <c>seqLen</c> tokens, each forwarded from an empty context.
/// </summary>
public static class CalibrationRunner
{
    public const int DefaultSamples = 512;
    public const int DefaultSequenceLength = 512;

    /// <param name="progress">(windows done, windows total).</param>
    public static ActivationStats Run(ModelConfig config, ModelOptions options, IReadOnlyList<int> stream,
        int samples = DefaultSamples, int seqLen = DefaultSequenceLength, Action<int, int>? progress = null, int windowsPerBatch = 4)
    {
        seqLen = Math.Min(seqLen, config.MaxPositionEmbeddings);
        int windows = Math.Min(samples, stream.Count / seqLen);   // capped by what the text holds
        if (windows < 1)
            throw new ArgumentException($"the calibration text holds {stream.Count} tokens; one sample needs {seqLen}.");
        var recorder = new RecordingQuantMethod();
        using var model = ModelFactory.Load(config, options with { Quantization = recorder });
        const int blockSize = 16;
        int blocksPerWindow = (seqLen + blockSize - 1) / blockSize;
        using var cache = new KvCachePool(config.NumLayers, blocksPerWindow * windowsPerBatch, blockSize, config.NumKvHeads, config.HeadDim, model.Dtype, model.Device);
        for (int w0 = 0; w0 < windows; w0 += windowsPerBatch)
        {
            int n = Math.Min(windowsPerBatch, windows - w0);
            var chunks = new List<SequenceChunk>(n);
            for (int j = 0; j < n; j++)
            {
                int start = (w0 + j) * seqLen;
                var tokens = new int[seqLen];
                for (int t = 0; t < seqLen; t++) tokens[t] = stream[start + t];
                chunks.Add(new SequenceChunk(tokens, 0, Enumerable.Range(j * blocksPerWindow, blocksPerWindow).ToArray()));
            }
            using var scope = NewDisposeScope();
            using var batch = ForwardBatchBuilder.Build(chunks, blockSize, model.Device);
            model.Forward(batch, cache);                                              // only the recorders' side effect matters
            progress?.Invoke(w0 + n, windows);
        }
        return recorder.Collect((long)windows * seqLen);
    }
}
