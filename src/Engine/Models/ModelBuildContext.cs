using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models.Layers;
using InferenceServer.Engine.Models.Quantization;
using InferenceServer.Engine.Parallel;
using InferenceServer.Engine.Runtime;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Models;

/// <summary>
/// Everything a model needs while it builds its layers: the config, where weights come from, the serving dtype and
/// device, and the quant method for linear layers. Fused projections (qkv, gate_up) are declared here once. Under
/// tensor parallelism it also says which share of each layer this rank holds (<see cref="Communicator"/>).
/// </summary>
public sealed class ModelBuildContext(ModelConfig config, IWeightSource weights, ScalarType dtype, Device device, IQuantMethod quant)
{
    public ModelConfig Config { get; } = config;
    public IWeightSource Weights { get; } = weights;
    public ScalarType Dtype { get; } = dtype;
    public Device Device { get; } = device;
    public IQuantMethod Quant { get; } = quant;

    /// <summary>Fused native kernels (CUDA with the library present); null keeps the portable TorchSharp ops.</summary>
    public Kernels.NativeKernels? Kernels { get; init; }

    /// <summary>This rank's communicator; a group of one unless the model is split across ranks.</summary>
    public ICommunicator Communicator { get; init; } = SingleRankCommunicator.Instance;

    /// <summary>This rank's share of heads, intermediate width and vocabulary.</summary>
    public TensorParallelLayout Layout => new(Communicator.Rank, Communicator.WorldSize) { InGroup = Communicator is not SingleRankCommunicator };

    /// <summary>Called after each layer is built, for progress reporting: (layers done, layers total).</summary>
    public Action<int, int>? Progress { get; init; }

    public Tensor Load(string name, long[] shape, WeightInit init = WeightInit.Normal) =>
        Weights.Get(name, shape, Dtype, Device, init);

    /// <summary>The config's NumLayers decoder layers, reporting progress after each.</summary>
    public T[] Layers<T>(Func<int, T> build)
    {
        var layers = new T[Config.NumLayers];
        for (int i = 0; i < layers.Length; i++)
        {
            layers[i] = build(i);
            Progress?.Invoke(i + 1, layers.Length);
        }
        return layers;
    }

    /// <summary>lm_head [V, width] (this rank's rows): the token embeddings themselves when tied (or when the checkpoint has no lm_head).</summary>
    public Tensor LmHead(Tensor embedTokens, int width) => Config.TieWordEmbeddings || !Weights.Has("lm_head.weight")
        ? embedTokens
        : VocabRows(Load("lm_head.weight", [Config.VocabSize, width]));

    /// <summary>The token embedding table [V, width], split by vocabulary across the ranks.</summary>
    public VocabParallelEmbedding Embedding(string name, int width) =>
        new(VocabRows(Load(name, [Config.VocabSize, width])), Layout.Vocab(Config.VocabSize).Start, Communicator);

    /// <summary>The rank's rows of a [V, width] table (a new tensor; <paramref name="full"/> is disposed), or the table itself with one rank.</summary>
    private Tensor VocabRows(Tensor full)
    {
        if (!Layout.IsSharded) return full;
        var (start, count) = Layout.Vocab(Config.VocabSize);
        using (full)
            return full.narrow(0, start, count).clone();
    }

    /// <summary>
    /// A column-parallel layer (q/k/v, gate/up, fc1): each part's output rows are split, <paramref name="shares"/>
    /// giving this rank's [start, start + count) of each part. The layer is built whole and then split (see
    /// <see cref="IShardableLinearKernel"/>); with one rank it is <see cref="Linear(string, IReadOnlyList{string}, IReadOnlyList{int}, int, bool)"/>.
    /// </summary>
    public ILinearKernel ColumnLinear(string name, IReadOnlyList<string> parts, IReadOnlyList<int> outSizes,
        IReadOnlyList<(int Start, int Count)> shares, int inFeatures, bool bias)
    {
        if (!Layout.IsSharded) return Linear(name, parts, outSizes, inFeatures, bias);
        using var keep = new KeepAliveScope();
        using var full = Linear(name, parts, outSizes, inFeatures, bias);
        var ranges = shares.Select((s, i) => (outSizes.Take(i).Sum() + s.Start, s.Count)).ToArray();
        return LinearSharding.Rows(full, name, ranges, Layout.Size);
    }

    /// <summary>
    /// A row-parallel layer (o_proj, down_proj, out_proj, fc2): this rank holds input columns <paramref name="share"/>,
    /// and the layer's output is all-reduced over the ranks, so the caller gets the whole output.
    /// </summary>
    public ILinearKernel RowLinear(string name, int outFeatures, int inFeatures, (int Start, int Count) share, bool bias)
    {
        if (!Layout.IsSharded) return Linear(name, outFeatures, inFeatures, bias);
        using var keep = new KeepAliveScope();
        using var full = Linear(name, outFeatures, inFeatures, bias);
        return new RowParallelLinear(LinearSharding.Columns(full, name, share, Layout.Size), Communicator);
    }

    /// <summary>
    /// Builds one linear layer from one or more checkpoint projections stacked along the output dimension
    /// (q,k,v → qkv; gate,up → gate_up). <paramref name="parts"/> are checkpoint prefixes without ".weight".
    /// </summary>
    public ILinearKernel Linear(string name, IReadOnlyList<string> parts, IReadOnlyList<int> outSizes, int inFeatures, bool bias)
    {
        var spec = new LinearSpec(name, inFeatures, outSizes.Sum(), bias, Dtype, Device, Kernels)
        {
            Parts = parts.Select((p, i) => (p, outSizes[i])).ToArray(),
        };
        var method = Quant.AppliesTo(spec) ? Quant : UnquantizedMethod.Instance;
        using var keep = new KeepAliveScope();   // quantizing leaves temporaries to the collector: keep them until built
        if (Weights is DummyWeightSource)
            return method.CreateDummy(spec);
        if (method.LoadPrequantized(spec, Weights) is { } prequantized)
            return prequantized;
        var weight = Stack(parts.Select((p, i) => Load(p + ".weight", [outSizes[i], inFeatures])).ToList());
        var b = bias ? Stack(parts.Select((p, i) => Load(p + ".bias", [outSizes[i]], WeightInit.Zeros)).ToList()) : null;
        return method.Create(spec, weight, b);
    }

    public ILinearKernel Linear(string name, int outFeatures, int inFeatures, bool bias) =>
        Linear(name, [name], [outFeatures], inFeatures, bias);

    private static Tensor Stack(List<Tensor> parts)
    {
        if (parts.Count == 1) return parts[0];
        var result = cat(parts, 0);
        foreach (var p in parts) p.Dispose();
        return result;
    }
}
