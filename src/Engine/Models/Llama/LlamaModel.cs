using InferenceServer.Engine.Attention;
using InferenceServer.Engine.Batching;
using InferenceServer.Engine.KvCache;
using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models.Layers;
using InferenceServer.Engine.Models.Quantization;
using InferenceServer.Engine.Runtime;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Models.Llama;

/// <summary>LlamaForCausalLM, MistralForCausalLM and Qwen2ForCausalLM: the same graph with different options.</summary>
public sealed class LlamaModel : ICausalLM
{
    private readonly VocabParallelEmbedding _embedTokens;   // [V, H] (this rank's rows)
    private readonly LlamaDecoderLayer[] _layers;
    private readonly RmsNorm _norm;
    private readonly Tensor _lmHead;        // [V, H] (this rank's rows); the same tensor as the embeddings' when tied
    private readonly VocabParallelLmHead _lmHeadLinear; // reads _lmHead (never quantized); not disposed itself
    private readonly RotaryEmbedding _rope;
    private readonly IAttentionBackend _attention;

    public ModelConfig Config { get; }
    public ScalarType Dtype { get; }
    public Device Device { get; }
    public Kernels.NativeKernels? Kernels { get; }
    public long LinearWeightBytes => _layers.SelectMany(l => l.Linears).Sum(l => l.WeightBytes);
    public int KvHeads { get; }

    public LlamaModel(ModelBuildContext ctx, IAttentionBackend attention)
    {
        var c = Config = ctx.Config;
        Dtype = ctx.Dtype;
        Device = ctx.Device;
        Kernels = ctx.Kernels;
        _attention = attention;
        KvHeads = ctx.Layout.KvHeads(c).Count;
        _embedTokens = ctx.Embedding("model.embed_tokens.weight", c.HiddenSize);
        _layers = ctx.Layers(i => new LlamaDecoderLayer(ctx, i));
        _norm = new RmsNorm(ctx.Load("model.norm.weight", [c.HiddenSize], WeightInit.Ones), c.RmsNormEps, ctx.Kernels);
        _lmHead = ctx.LmHead(_embedTokens.Weight, c.HiddenSize);
        _lmHeadLinear = new VocabParallelLmHead(new DenseLinearKernel(_lmHead, null, ctx.Kernels), c.VocabSize, ctx.Communicator);
        _rope = new RotaryEmbedding(c.HeadDim, c.MaxPositionEmbeddings, c.Rope, ctx.Device, ctx.Kernels);
    }

    public Tensor Forward(ForwardBatch batch, KvCachePool cache)
    {
        batch.Attention ??= _attention.BuildMetadata(batch);   // once per pass, outside the scope: the batch owns it
        using var scope = NewDisposeScope();
        var residual = _embedTokens.Forward(batch.TokenIds);                         // [T, H], updated in place by the layers
        var ropeStep = _rope.Prepare(batch.Positions, Dtype);
        Tensor? delta = null;                                                        // [T, H] last block's output, not yet added
        foreach (var layer in _layers)
        {
            var next = layer.Forward(residual, delta, _rope, ropeStep, batch, cache, _attention);
            delta?.Dispose();
            delta = next;
        }
        var normed = batch.LogitsRows.shape[0] == batch.NumTokens                    // [N, H]; every row, in order (decode): nothing to select
            ? _norm.AddForward(residual, delta!)
            : _norm.Forward(Scalars.Add(residual.index_select(0, batch.LogitsRows), delta!.index_select(0, batch.LogitsRows)));
        var logits = _lmHeadLinear.Forward(normed).to(ScalarType.Float32);
        return logits.MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        foreach (var l in _layers) l.Dispose();
        _norm.Dispose();
        if (!ReferenceEquals(_lmHead, _embedTokens.Weight)) _lmHead.Dispose();
        _embedTokens.Dispose();
        _rope.Dispose();
    }
}
