using InferenceServer.Engine.Attention;
using InferenceServer.Engine.KvCache;
using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models.Layers;
using InferenceServer.Engine.Runner;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Models.Llama;

/// <summary>LlamaForCausalLM, MistralForCausalLM and Qwen2ForCausalLM: the same graph with different options.</summary>
public sealed class LlamaModel : ICausalLM
{
    private readonly Tensor _embedTokens;   // [V, H]
    private readonly LlamaDecoderLayer[] _layers;
    private readonly RmsNorm _norm;
    private readonly Tensor _lmHead;        // [V, H]; the same tensor as _embedTokens when tied
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
        _layers = new LlamaDecoderLayer[c.NumLayers];
        for (int i = 0; i < c.NumLayers; i++)
        {
            _layers[i] = new LlamaDecoderLayer(ctx, i);
            ctx.Progress?.Invoke(i + 1, c.NumLayers);
        }
        _norm = new RmsNorm(ctx.Load("model.norm.weight", [c.HiddenSize], WeightInit.Ones), c.RmsNormEps, ctx.Kernels);
        _lmHead = c.TieWordEmbeddings || !ctx.Weights.Has("lm_head.weight")
            ? _embedTokens
            : ctx.Load("lm_head.weight", [c.VocabSize, c.HiddenSize]);
        _rope = new RotaryEmbedding(c.HeadDim, c.MaxPositionEmbeddings, c.Rope, ctx.Device, ctx.Kernels);
    }

    public Tensor Forward(ForwardBatch batch, KvCachePool cache)
    {
        using var scope = NewDisposeScope();
        var x = _embedTokens.index_select(0, batch.TokenIds);                        // [T, H]
        var ropeStep = _rope.Prepare(batch.Positions, Dtype);
        foreach (var layer in _layers)
            x = layer.Forward(x, _rope, ropeStep, batch, cache, _attention);
        var last = x.index_select(0, batch.LogitsRows);                              // [N, H]
        var logits = nn.functional.linear(_norm.Forward(last), _lmHead).to(ScalarType.Float32);
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
