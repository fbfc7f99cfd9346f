using InferenceServer.Engine.Attention;
using InferenceServer.Engine.KvCache;
using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models.Layers;
using InferenceServer.Engine.Models.Quantization;
using InferenceServer.Engine.Runner;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Models.Llama;

/// <summary>
/// One Llama/Mistral/Qwen2 block: x + o(attn(rope(qkv(norm(x))))), then + down(silu(gate)·up(norm(x))).
/// q/k/v and gate/up are fused into one matmul each.
/// </summary>
public sealed class LlamaDecoderLayer : IDisposable
{
    private readonly int _index;
    private readonly ModelConfig _c;
    public RmsNorm InputNorm { get; }
    public ILinearKernel QkvProj { get; }
    public ILinearKernel OProj { get; }
    public RmsNorm PostAttentionNorm { get; }
    public ILinearKernel GateUpProj { get; }
    public ILinearKernel DownProj { get; }

    public LlamaDecoderLayer(ModelBuildContext ctx, int index)
    {
        _index = index;
        _c = ctx.Config;
        var p = $"model.layers.{index}";
        int h = _c.HiddenSize, q = _c.NumHeads * _c.HeadDim, kv = _c.NumKvHeads * _c.HeadDim;
        InputNorm = new RmsNorm(ctx.Load($"{p}.input_layernorm.weight", [h], WeightInit.Ones), _c.RmsNormEps);
        QkvProj = ctx.Linear($"{p}.self_attn.qkv_proj",
            [$"{p}.self_attn.q_proj", $"{p}.self_attn.k_proj", $"{p}.self_attn.v_proj"], [q, kv, kv], h, _c.QkvBias);
        OProj = ctx.Linear($"{p}.self_attn.o_proj", h, q, _c.OutputProjBias);
        PostAttentionNorm = new RmsNorm(ctx.Load($"{p}.post_attention_layernorm.weight", [h], WeightInit.Ones), _c.RmsNormEps);
        GateUpProj = ctx.Linear($"{p}.mlp.gate_up_proj",
            [$"{p}.mlp.gate_proj", $"{p}.mlp.up_proj"], [_c.IntermediateSize, _c.IntermediateSize], h, _c.MlpBias);
        DownProj = ctx.Linear($"{p}.mlp.down_proj", h, _c.IntermediateSize, _c.MlpBias);
    }

    /// <param name="x">[T, H] residual stream.</param>
    /// <param name="cos">[T, 1, D]</param>
    /// <param name="sin">[T, 1, D]</param>
    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, ForwardBatch batch, KvCachePool cache, IAttentionBackend attention)
    {
        using var scope = NewDisposeScope();
        long t = x.shape[0];
        int d = _c.HeadDim, q = _c.NumHeads * d, kv = _c.NumKvHeads * d;
        var qkv = QkvProj.Forward(InputNorm.Forward(x));                               // [T, q + 2kv]
        var qh = RotaryEmbedding.Apply(qkv.narrow(1, 0, q).view(t, _c.NumHeads, d), cos, sin);
        var kh = RotaryEmbedding.Apply(qkv.narrow(1, q, kv).view(t, _c.NumKvHeads, d), cos, sin);
        var vh = qkv.narrow(1, q + kv, kv).reshape(t, _c.NumKvHeads, d);
        var attn = attention.Forward(_index, qh, kh, vh, batch, cache);               // [T, q]
        var h1 = x + OProj.Forward(attn);
        var gateUp = GateUpProj.Forward(PostAttentionNorm.Forward(h1));               // [T, 2I]
        var gate = gateUp.narrow(1, 0, _c.IntermediateSize);
        var up = gateUp.narrow(1, _c.IntermediateSize, _c.IntermediateSize);
        var h2 = h1 + DownProj.Forward(nn.functional.silu(gate) * up);
        return h2.MoveToOuterDisposeScope();
    }

    public IEnumerable<ILinearKernel> Linears => [QkvProj, OProj, GateUpProj, DownProj];

    public void Dispose()
    {
        InputNorm.Dispose();
        PostAttentionNorm.Dispose();
        foreach (var l in Linears) l.Dispose();
    }
}
