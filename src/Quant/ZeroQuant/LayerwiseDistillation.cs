using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models;
using InferenceServer.Engine.Models.Layers;
using InferenceServer.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Quant.ZeroQuant;

/// <summary>Per-block result of LKD: the MSE against the teacher before the first and after the last step.</summary>
public sealed record BlockLoss(int Layer, double Before, double After);

/// <summary>
/// ZeroQuant's layer-by-layer knowledge distillation (LKD). For each transformer block in turn: the teacher's
/// (full-precision model's) input hidden states for the calibration windows go through the teacher block (the target)
/// and through the student block, whose linear weights are fake-quantized with the layer's scheme; Adam minimises the
/// MSE between the two by training the student's weights through the straight-through estimator. The next block
/// again starts from the teacher's hidden states, so blocks are independent and only one is in memory at a time.
/// The trained weights are returned (float32, CPU) for the quant method to quantize as usual.
/// </summary>
public static class LayerwiseDistillation
{
    /// <param name="progress">(optimizer steps done, steps total) over all blocks.</param>
    /// <param name="log">Receives one line per block with its loss before and after.</param>
    public static Dictionary<string, Tensor> Run(ModelConfig config, ModelOptions options, ZeroQuantMethod method, IReadOnlyList<int> stream,
        Action<int, int>? progress = null, Action<string>? log = null, List<BlockLoss>? losses = null)
    {
        if (config.IsOpt)
            throw new NotSupportedException("--lkd-steps: layer-by-layer distillation is implemented for Llama-family models (Llama, Mistral, Qwen2), not OPT.");
        var lkd = method.Options.Lkd;
        var device = options.Device;
        int seqLen = Math.Min(lkd.SequenceLength, config.MaxPositionEmbeddings);
        int windows = Math.Min(lkd.Samples, stream.Count / seqLen);
        if (windows < 1)
            throw new ArgumentException($"the calibration text holds {stream.Count} tokens; one LKD sample needs {seqLen}.");
        int batch = Math.Min(lkd.BatchSize, windows);
        var result = new Dictionary<string, Tensor>();
        using var checkpoint = new Checkpoint(options.ModelDir);
        IWeightSource src = new CheckpointWeightSource(checkpoint);
        if (options.WeightTransform is { } transform) src = transform(src);

        var (cos, sin) = RotaryTables(config, seqLen, device);
        Tensor hidden;                                                                       // [windows, S, H] teacher hidden states
        using (var emb = src.Get("model.embed_tokens.weight", [config.VocabSize, config.HiddenSize], ScalarType.Float32, device))
        {
            var ids = new long[(long)windows * seqLen];
            for (long t = 0; t < ids.Length; t++) ids[t] = stream[(int)t];
            using var idx = tensor(ids, device: device);
            hidden = emb.index_select(0, idx).view(windows, seqLen, config.HiddenSize);
        }
        int total = config.NumLayers * lkd.Steps, done = 0;
        for (int layer = 0; layer < config.NumLayers; layer++)
        {
            using var keep = new KeepAliveScope();
            using var block = new DistillationBlock(config, src, layer, method.Options, device);
            var teacherWeights = block.Weights.Select(w => w.Weight).ToArray();
            Tensor target;                                                                   // [windows, S, H]
            using (no_grad())
                target = cat(Batches(windows, batch).Select(r => block.Forward(hidden.narrow(0, r.Start, r.Count), teacherWeights, false, cos, sin)).ToList(), 0);
            var student = teacherWeights.Select(w => new TorchSharp.Modules.Parameter(w.clone(), requires_grad: true)).ToArray();
            double before = Loss(block, hidden, target, student, windows, batch, cos, sin);
            using (var adam = new AdamOptimizer(student, lkd.LearningRate))
            {
                for (int step = 0; step < lkd.Steps; step++)
                {
                    using var scope = NewDisposeScope();
                    int start = step * batch % windows, count = Math.Min(batch, windows - start);
                    adam.ZeroGrad();
                    var y = block.Forward(hidden.narrow(0, start, count), student, true, cos, sin);
                    var loss = nn.functional.mse_loss(y, target.narrow(0, start, count));
                    loss.backward();
                    adam.Step();
                    progress?.Invoke(++done, total);
                }
            }
            double after = Loss(block, hidden, target, student, windows, batch, cos, sin);
            losses?.Add(new BlockLoss(layer, before, after));
            log?.Invoke($"LKD block {layer}: MSE {before:G4} → {after:G4} ({lkd.Steps} steps)");
            for (int i = 0; i < student.Length; i++)
                result[block.Weights[i].Name + ".weight"] = student[i].detach().cpu().clone();
            foreach (var p in student) p.Dispose();
            hidden.Dispose();
            hidden = target;                                                                 // the teacher's output feeds the next block
        }
        hidden.Dispose();
        cos.Dispose();
        sin.Dispose();
        return result;
    }

    /// <summary>Mean over all windows of the student's (fake-quantized) MSE against the teacher.</summary>
    private static double Loss(DistillationBlock block, Tensor hidden, Tensor target, Tensor[] student, int windows, int batch, Tensor cos, Tensor sin)
    {
        using var _ = no_grad();
        double sum = 0;
        foreach (var (start, count) in Batches(windows, batch))
        {
            using var scope = NewDisposeScope();
            var y = block.Forward(hidden.narrow(0, start, count), student, true, cos, sin);
            sum += nn.functional.mse_loss(y, target.narrow(0, start, count)).item<float>() * count;
        }
        return sum / windows;
    }

    private static IEnumerable<(int Start, int Count)> Batches(int n, int batch)
    {
        for (int s = 0; s < n; s += batch) yield return (s, Math.Min(batch, n - s));
    }

    /// <summary>cos, sin [S, D] for positions 0..S−1, with the model's rope scaling (the engine's frequencies).</summary>
    private static (Tensor Cos, Tensor Sin) RotaryTables(ModelConfig c, int seqLen, Device device)
    {
        using var scope = NewDisposeScope();
        var freqs = outer(Scalars.Arange(seqLen, ScalarType.Float32, CPU), tensor(RotaryEmbedding.InverseFrequencies(c.HeadDim, c.Rope)));
        var emb = cat([freqs, freqs], -1);
        return (emb.cos().to(device).MoveToOuterDisposeScope(), emb.sin().to(device).MoveToOuterDisposeScope());
    }
}
