using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models.Quantization;
using TorchSharp;
using static TorchSharp.torch;
using static InferenceServer.Quant.ZeroQuant.FakeQuant;
using static InferenceServer.Engine.Runtime.Scalars;

namespace InferenceServer.Quant.ZeroQuant;

/// <summary>
/// One Llama-family block as plain differentiable TorchSharp ops over whole windows [B, S, H] (no KV cache, causal
/// attention from position 0), for LKD: the teacher runs it in full precision, the student through fake-quantized
/// weights (and activations when the layer's scheme has A8). Only the seven projection weights are trainable.
/// </summary>
internal sealed class DistillationBlock : IDisposable
{
    private readonly ModelConfig _c;
    private readonly Tensor _inNorm, _postNorm;                 // [H]
    private readonly Tensor? _qkvBias, _oBias;
    public string Prefix { get; }
    /// <summary>Checkpoint names (without ".weight") → W [out, in] float32, in q, k, v, o, gate, up, down order.</summary>
    public IReadOnlyList<(string Name, Tensor Weight)> Weights { get; }
    private readonly LayerScheme?[] _schemes;                   // per entry of Weights; null = not quantized

    public DistillationBlock(ModelConfig c, IWeightSource src, int index, ZeroQuantOptions options, Device device)
    {
        if (c.MlpBias) throw new NotSupportedException("LKD does not handle MLP biases (mlp_bias: true).");
        _c = c;
        Prefix = $"model.layers.{index}";
        int h = c.HiddenSize, q = c.NumHeads * c.HeadDim, kv = c.NumKvHeads * c.HeadDim, i = c.IntermediateSize;
        Tensor Load(string name, long[] shape, WeightInit init = WeightInit.Normal) => src.Get(name, shape, ScalarType.Float32, device, init);
        _inNorm = Load($"{Prefix}.input_layernorm.weight", [h], WeightInit.Ones);
        _postNorm = Load($"{Prefix}.post_attention_layernorm.weight", [h], WeightInit.Ones);
        var parts = new (string Name, string Fused, int Out, int In)[]
        {
            ("self_attn.q_proj", "self_attn.qkv_proj", q, h), ("self_attn.k_proj", "self_attn.qkv_proj", kv, h), ("self_attn.v_proj", "self_attn.qkv_proj", kv, h),
            ("self_attn.o_proj", "self_attn.o_proj", h, q),
            ("mlp.gate_proj", "mlp.gate_up_proj", i, h), ("mlp.up_proj", "mlp.gate_up_proj", i, h), ("mlp.down_proj", "mlp.down_proj", h, i),
        };
        Weights = parts.Select(p => ($"{Prefix}.{p.Name}", Load($"{Prefix}.{p.Name}.weight", [p.Out, p.In]))).ToArray();
        _schemes = parts.Select(p =>
        {
            var fusedParts = parts.Where(o => o.Fused == p.Fused).Select(o => ($"{Prefix}.{o.Name}", o.Out)).ToArray();
            var spec = new LinearSpec($"{Prefix}.{p.Fused}", p.In, fusedParts.Sum(f => f.Out), false, ScalarType.Float32, device) { Parts = fusedParts };
            return options.SchemeFor(spec);
        }).ToArray();
        if (c.QkvBias)
            _qkvBias = cat([Load($"{Prefix}.self_attn.q_proj.bias", [q], WeightInit.Zeros), Load($"{Prefix}.self_attn.k_proj.bias", [kv], WeightInit.Zeros),
                Load($"{Prefix}.self_attn.v_proj.bias", [kv], WeightInit.Zeros)]);
        if (c.OutputProjBias) _oBias = Load($"{Prefix}.self_attn.o_proj.bias", [h], WeightInit.Zeros);
    }

    /// <param name="x">[B, S, H] float32.</param>
    /// <param name="weights">The seven projection weights (the teacher's or the student's), in <see cref="Weights"/> order.</param>
    /// <param name="cos">[S, D] rotary cosines; <paramref name="sin"/> likewise.</param>
    /// <returns>[B, S, H] the block's output (residual stream after the MLP).</returns>
    public Tensor Forward(Tensor x, IReadOnlyList<Tensor> weights, bool quantized, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], s = x.shape[1];
        int nh = _c.NumHeads, nkv = _c.NumKvHeads, d = _c.HeadDim, q = nh * d, kv = nkv * d;
        Tensor Lin(Tensor a, int idx) => nn.functional.linear(quantized && _schemes[idx] is { ActivationBits: 8 } ? Activations(a) : a,
            quantized && _schemes[idx] is { } sc ? Weight(weights[idx], sc) : weights[idx]);
        var a = RmsNorm(x, _inNorm);
        var qkv = cat([Lin(a, 0), Lin(a, 1), Lin(a, 2)], -1);                                  // [B, S, q + 2kv]
        if (_qkvBias is not null) qkv = Add(qkv, _qkvBias);
        var qh = Rope(qkv.narrow(-1, 0, q).view(b, s, nh, d).transpose(1, 2), cos, sin);         // [B, nh, S, D]
        var kh = Rope(qkv.narrow(-1, q, kv).view(b, s, nkv, d).transpose(1, 2), cos, sin);       // [B, nkv, S, D]
        var vh = qkv.narrow(-1, q + kv, kv).view(b, s, nkv, d).transpose(1, 2);
        if (nh != nkv)
        {
            kh = kh.repeat_interleave(nh / nkv, 1);
            vh = vh.repeat_interleave(nh / nkv, 1);
        }
        var attn = nn.functional.scaled_dot_product_attention(qh, kh, vh, is_casual: true)      // [B, nh, S, D]
            .transpose(1, 2).reshape(b, s, q);
        var o = Lin(attn, 3);
        if (_oBias is not null) o = Add(o, _oBias);
        var h1 = Add(x, o);
        var m = RmsNorm(h1, _postNorm);
        var act = nn.functional.silu(Lin(m, 4)) * Lin(m, 5);
        return Add(h1, Lin(act, 6)).MoveToOuterDisposeScope();
    }

    private Tensor RmsNorm(Tensor x, Tensor w) => x * (x * x).mean([-1L], keepdim: true).add(Of(_c.RmsNormEps), OneF).rsqrt() * w;

    /// <summary>HF's rotate-half rotary embedding: x·cos + rotate_half(x)·sin, x [B, heads, S, D].</summary>
    private static Tensor Rope(Tensor x, Tensor cos, Tensor sin)
    {
        long half = x.shape[^1] / 2;
        var rotated = cat([x.narrow(-1, half, half).neg(), x.narrow(-1, 0, half)], -1);
        return Add(x * cos, rotated * sin);
    }

    public void Dispose()
    {
        _inNorm.Dispose();
        _postNorm.Dispose();
        _qkvBias?.Dispose();
        _oBias?.Dispose();
        foreach (var (_, w) in Weights) w.Dispose();
    }
}
