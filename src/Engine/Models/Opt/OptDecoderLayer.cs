using InferenceServer.Engine.Runtime;
using InferenceServer.Engine.Attention;
using InferenceServer.Engine.Batching;
using InferenceServer.Engine.KvCache;
using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models.Layers;
using InferenceServer.Engine.Models.Quantization;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Models.Opt;

/// <summary>
/// One OPT block: attention and a ReLU MLP (fc1, fc2), with LayerNorm before each sublayer (most OPT sizes)
/// or after each residual add (OPT-350m style, <c>do_layer_norm_before = false</c>).
/// </summary>
public sealed class OptDecoderLayer : IDisposable
{
    private readonly int _index;
    private readonly ModelConfig _c;
    private readonly int _heads;   // this rank's heads (all of them with one rank)
    public LayerNorm SelfAttnNorm { get; }
    public ILinearKernel QkvProj { get; }
    public ILinearKernel OutProj { get; }
    public LayerNorm FinalNorm { get; }
    public ILinearKernel Fc1 { get; }
    public ILinearKernel Fc2 { get; }

    public OptDecoderLayer(ModelBuildContext ctx, string prefix, int index)
    {
        _index = index;
        _c = ctx.Config;
        var p = $"{prefix}.layers.{index}";
        int h = _c.HiddenSize;
        bool b = _c.EnableBias;
        SelfAttnNorm = Norm(ctx, $"{p}.self_attn_layer_norm", h);
        // Tensor parallelism: q/k/v and fc1 split by output rows (heads, intermediate columns), out_proj and fc2 by input columns.
        var (start, heads) = ctx.Layout.QueryHeads(_c);
        var share = (start * _c.HeadDim, heads * _c.HeadDim);
        var mlp = ctx.Layout.Intermediate(_c);
        _heads = heads;
        QkvProj = ctx.ColumnLinear($"{p}.self_attn.qkv_proj",
            [$"{p}.self_attn.q_proj", $"{p}.self_attn.k_proj", $"{p}.self_attn.v_proj"], [h, h, h], [share, share, share], h, b);
        OutProj = ctx.RowLinear($"{p}.self_attn.out_proj", h, h, share, b);
        FinalNorm = Norm(ctx, $"{p}.final_layer_norm", h);
        Fc1 = ctx.ColumnLinear($"{p}.fc1", [$"{p}.fc1"], [_c.IntermediateSize], [mlp], h, b);
        Fc2 = ctx.RowLinear($"{p}.fc2", h, _c.IntermediateSize, mlp, b);
    }

    internal static LayerNorm Norm(ModelBuildContext ctx, string name, int width) => new(
        ctx.Load($"{name}.weight", [width], WeightInit.Ones),
        ctx.Load($"{name}.bias", [width], WeightInit.Zeros));

    /// <param name="x">[T, H] residual stream.</param>
    public Tensor Forward(Tensor x, ForwardBatch batch, KvCachePool cache, IAttentionBackend attention)
    {
        using var scope = NewDisposeScope();
        bool pre = _c.DoLayerNormBefore;
        long t = x.shape[0];
        int d = _c.HeadDim, h = _heads * d;                                           // h: this rank's share of the width
        var qkv = QkvProj.Forward(pre ? SelfAttnNorm.Forward(x) : x);                 // [T, 3h]
        var qh = qkv.narrow(1, 0, h).view(t, _heads, d);
        var kh = qkv.narrow(1, h, h).view(t, _heads, d);
        var vh = qkv.narrow(1, 2 * h, h).reshape(t, _heads, d);
        var h1 = Scalars.Add(x, OutProj.Forward(attention.Forward(_index, qh, kh, vh, batch, cache)));
        if (!pre) h1 = SelfAttnNorm.Forward(h1);
        var mlp = Fc2.Forward(nn.functional.relu(Fc1.Forward(pre ? FinalNorm.Forward(h1) : h1)));
        var h2 = Scalars.Add(h1, mlp);
        if (!pre) h2 = FinalNorm.Forward(h2);
        return h2.MoveToOuterDisposeScope();
    }

    public IEnumerable<ILinearKernel> Linears => [QkvProj, OutProj, Fc1, Fc2];

    public void Dispose()
    {
        SelfAttnNorm.Dispose();
        FinalNorm.Dispose();
        foreach (var l in Linears) l.Dispose();
    }
}
