using InferenceServer.Engine.Runtime;
using TorchSharp;
using InferenceServer.Engine.Attention;
using InferenceServer.Engine.Batching;
using InferenceServer.Engine.KvCache;
using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models.Layers;
using InferenceServer.Engine.Models.Quantization;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Models.Opt;

/// <summary>
/// OPTForCausalLM: learned absolute positions (table offset by 2), optional project_in/project_out when
/// <c>word_embed_proj_dim</c> differs from the hidden size, and an lm_head tied to the token embeddings.
/// </summary>
public sealed class OptModel : ICausalLM
{
    /// <summary>OPT's position table starts with two unused rows (a fairseq padding convention).</summary>
    private const int PositionOffset = 2;
    private static readonly TorchSharp.Scalar PositionOffsetScalar = ((long)PositionOffset).ToScalar();

    private readonly VocabParallelEmbedding _embedTokens;   // [V, P], P = word_embed_proj_dim (this rank's rows)
    private readonly Tensor _embedPositions;  // [maxPos + 2, H]
    private readonly ILinearKernel? _projectIn;   // P → H
    private readonly ILinearKernel? _projectOut;  // H → P
    private readonly OptDecoderLayer[] _layers;
    private readonly LayerNorm? _finalNorm;
    private readonly Tensor _lmHead;          // [V, P] (this rank's rows)
    private readonly VocabParallelLmHead _lmHeadLinear;   // reads _lmHead; not disposed itself
    private readonly IAttentionBackend _attention;

    public ModelConfig Config { get; }
    public ScalarType Dtype { get; }
    public Device Device { get; }
    public Kernels.NativeKernels? Kernels { get; }
    public long LinearWeightBytes => _layers.SelectMany(l => l.Linears).Sum(l => l.WeightBytes);
    public int KvHeads { get; }

    public OptModel(ModelBuildContext ctx, IAttentionBackend attention)
    {
        var c = Config = ctx.Config;
        Dtype = ctx.Dtype;
        Device = ctx.Device;
        Kernels = ctx.Kernels;
        _attention = attention;
        // HF OPT checkpoints name weights "model.decoder.*"; some older exports drop the "model." prefix.
        var p = ctx.Weights.Has("decoder.embed_tokens.weight") && !ctx.Weights.Has("model.decoder.embed_tokens.weight")
            ? "decoder" : "model.decoder";
        int proj = c.WordEmbedProjDim, h = c.HiddenSize;
        KvHeads = ctx.Layout.KvHeads(c).Count;
        _embedTokens = ctx.Embedding($"{p}.embed_tokens.weight", proj);
        _embedPositions = ctx.Load($"{p}.embed_positions.weight", [c.MaxPositionEmbeddings + PositionOffset, h]);
        if (proj != h)
        {
            // Projections stay in the serving dtype: they are not among the paper's quantized layers.
            var plain = new ModelBuildContext(c, ctx.Weights, ctx.Dtype, ctx.Device, UnquantizedMethod.Instance);
            _projectIn = plain.Linear($"{p}.project_in", h, proj, false);
            _projectOut = plain.Linear($"{p}.project_out", proj, h, false);
        }
        _layers = ctx.Layers(i => new OptDecoderLayer(ctx, p, i));
        if (c.DoLayerNormBefore && !c.RemoveFinalLayerNorm)
            _finalNorm = OptDecoderLayer.Norm(ctx, $"{p}.final_layer_norm", h);
        _lmHead = ctx.LmHead(_embedTokens.Weight, proj);
        _lmHeadLinear = new VocabParallelLmHead(new DenseLinearKernel(_lmHead, null, ctx.Kernels), c.VocabSize, ctx.Communicator);
    }

    public Tensor Forward(ForwardBatch batch, KvCachePool cache)
    {
        batch.Attention ??= _attention.BuildMetadata(batch);   // once per pass, outside the scope: the batch owns it
        using var scope = NewDisposeScope();
        var x = _embedTokens.Forward(batch.TokenIds);                               // [T, P]
        if (_projectIn is not null) x = _projectIn.Forward(x);                      // [T, H]
        x = Scalars.Add(x, _embedPositions.index_select(0, batch.Positions.add(PositionOffsetScalar, Scalars.OneL)));
        foreach (var layer in _layers)
            x = layer.Forward(x, batch, cache, _attention);
        var last = x.index_select(0, batch.LogitsRows);                             // [N, H]
        if (_finalNorm is not null) last = _finalNorm.Forward(last);
        if (_projectOut is not null) last = _projectOut.Forward(last);             // [N, P]
        return _lmHeadLinear.Forward(last).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        foreach (var l in _layers) l.Dispose();
        _finalNorm?.Dispose();
        _projectIn?.Dispose();
        _projectOut?.Dispose();
        if (!ReferenceEquals(_lmHead, _embedTokens.Weight)) _lmHead.Dispose();
        _embedTokens.Dispose();
        _embedPositions.Dispose();
    }
}
