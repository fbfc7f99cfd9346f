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
    private readonly Tensor _embedTokens;   // [V, H]
    private readonly LlamaDecoderLayer[] _layers;
    private readonly RmsNorm _norm;
    private readonly Tensor _lmHead;        // [V, H]; the same tensor as _embedTokens when tied
    private readonly DenseLinearKernel _lmHeadLinear; // reads _lmHead (never quantized); not disposed itself
    private readonly RotaryEmbedding _rope;
    private readonly IAttentionBackend _attention;

    public ModelConfig Config { get; }
    public ScalarType Dtype { get; }
    public Device Device { get; }
    public Kernels.NativeKernels? Kernels { get; }
    public long LinearWeightBytes => _layers.SelectMany(l => l.Linears).Sum(l => l.WeightBytes);

    public LlamaModel(ModelBuildContext ctx, IAttentionBackend attention)
    {
        var c = Config = ctx.Config;
        Dtype = ctx.Dtype;
        Device = ctx.Device;
        Kernels = ctx.Kernels;
        _attention = attention;
        _embedTokens = ctx.Load("model.embed_tokens.weight", [c.VocabSize, c.HiddenSize]);
        _layers = ctx.Layers(i => new LlamaDecoderLayer(ctx, i));
        _norm = new RmsNorm(ctx.Load("model.norm.weight", [c.HiddenSize], WeightInit.Ones), c.RmsNormEps, ctx.Kernels);
        _lmHead = ctx.LmHead(_embedTokens, c.HiddenSize);
        _lmHeadLinear = new DenseLinearKernel(_lmHead, null, ctx.Kernels);
        _rope = new RotaryEmbedding(c.HeadDim, c.MaxPositionEmbeddings, c.Rope, ctx.Device, ctx.Kernels);
    }

    public Tensor Forward(ForwardBatch batch, KvCachePool cache)
    {
        batch.Attention ??= _attention.BuildMetadata(batch);   // once per pass, outside the scope: the batch owns it
        using var scope = NewDisposeScope();
        var residual = _embedTokens.index_select(0, batch.TokenIds);                 // [T, H], updated in place by the layers
        var ropeStep = _rope.Prepare(batch.Positions, Dtype);
        Tensor? delta = null;                                                        // [T, H] last block's output, not yet added
        foreach (var layer in _layers)
        {
            var next = layer.Forward(residual, delta, _rope, ropeStep, batch, cache, _attention);
            delta?.Dispose();
            delta = next;
        }
        var last = Scalars.Add(residual.index_select(0, batch.LogitsRows), delta!.index_select(0, batch.LogitsRows)); // [N, H]
        var logits = _lmHeadLinear.Forward(_norm.Forward(last)).to(ScalarType.Float32);
        return logits.MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        foreach (var l in _layers) l.Dispose();
        _norm.Dispose();
        if (!ReferenceEquals(_lmHead, _embedTokens)) _lmHead.Dispose();
        _embedTokens.Dispose();
        _rope.Dispose();
    }
}
