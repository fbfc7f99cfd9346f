using InferenceServer.Engine.Attention;
using InferenceServer.Engine.Batching;
using InferenceServer.Engine.KvCache;
using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models.Layers;
using InferenceServer.Engine.Models.Quantization;
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
    private readonly Kernels.NativeKernels? _kernels;
    private readonly int _heads, _kvHeads;   // this rank's query and KV heads (all of them with one rank)
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
        _kernels = ctx.Kernels;
        var p = $"model.layers.{index}";
        int h = _c.HiddenSize, d = _c.HeadDim, q = _c.NumHeads * d, kv = _c.NumKvHeads * d;
        // Tensor parallelism: q/k/v and gate/up split by output rows (heads, intermediate columns), o/down by input columns.
        var (qStart, heads) = ctx.Layout.QueryHeads(_c);
        var (kvStart, kvHeads) = ctx.Layout.KvHeads(_c);
        var mlp = ctx.Layout.Intermediate(_c);
        (_heads, _kvHeads) = (heads, kvHeads);
        InputNorm = new RmsNorm(ctx.Load($"{p}.input_layernorm.weight", [h], WeightInit.Ones), _c.RmsNormEps, ctx.Kernels);
        QkvProj = ctx.ColumnLinear($"{p}.self_attn.qkv_proj", [$"{p}.self_attn.q_proj", $"{p}.self_attn.k_proj", $"{p}.self_attn.v_proj"],
            [q, kv, kv], [(qStart * d, heads * d), (kvStart * d, kvHeads * d), (kvStart * d, kvHeads * d)], h, _c.QkvBias);
        OProj = ctx.RowLinear($"{p}.self_attn.o_proj", h, q, (qStart * d, heads * d), _c.OutputProjBias);
        PostAttentionNorm = new RmsNorm(ctx.Load($"{p}.post_attention_layernorm.weight", [h], WeightInit.Ones), _c.RmsNormEps, ctx.Kernels);
        GateUpProj = ctx.ColumnLinear($"{p}.mlp.gate_up_proj", [$"{p}.mlp.gate_proj", $"{p}.mlp.up_proj"],
            [_c.IntermediateSize, _c.IntermediateSize], [mlp, mlp], h, _c.MlpBias);
        DownProj = ctx.RowLinear($"{p}.mlp.down_proj", h, _c.IntermediateSize, mlp, _c.MlpBias);
    }

    /// <summary>
    /// One block in the residual-stream form of vLLM: the caller keeps the residual stream and the pending output of
    /// the previous block, and each norm first adds that output in (fused into one launch on CUDA).
    /// </summary>
    /// <param name="residual">[T, H] residual stream, updated in place.</param>
    /// <param name="delta">[T, H] the previous block's MLP output not yet added to <paramref name="residual"/>, or null.</param>
    /// <returns>[T, H] this block's MLP output, to be added to <paramref name="residual"/> by the next norm.</returns>
    public Tensor Forward(Tensor residual, Tensor? delta, RotaryEmbedding rope, RotaryEmbedding.StepInputs ropeStep, ForwardBatch batch, KvCachePool cache, IAttentionBackend attention)
    {
        using var scope = NewDisposeScope();
        var qkv = InputNorm.AddForwardInto(QkvProj, residual, delta);                 // [T, q + 2kv] (this rank's heads)
        var attn = rope.AttendDecode(attention, _index, qkv, ropeStep, batch, cache)   // [T, q] (this rank's heads)
            ?? RotateAndAttend(qkv, rope, ropeStep, batch, cache, attention);
        var o = OProj.Forward(attn);                                                    // [T, H]
        if (GateUpProj is IGatedMlpLinear { ProducesActivation: true } gated)
            return DownProj.Forward(PostAttentionNorm.AddForwardInto(gated.Activation, residual, o)).MoveToOuterDisposeScope(); // via [T, I]
        var gateUp = PostAttentionNorm.AddForwardInto(GateUpProj, residual, o);         // [T, 2I]
        return SiluAndMul.ForwardInto(DownProj, gateUp, _kernels).MoveToOuterDisposeScope();
    }

    /// <summary>qkv [T, q + 2kv] → [T, q]: rotary (with the cache write where the kernel fuses it), then attention.</summary>
    private Tensor RotateAndAttend(Tensor qkv, RotaryEmbedding rope, RotaryEmbedding.StepInputs ropeStep, ForwardBatch batch, KvCachePool cache, IAttentionBackend attention)
    {
        if (rope.FusesCacheWrite)
        {
            var (qh, kh, vh) = rope.SplitRotateAndCache(qkv, ropeStep, _heads, _kvHeads, _c.HeadDim, cache.Keys(_index), cache.Values(_index), batch.SlotMapping);
            return attention.AttendWritten(_index, qh, kh, vh, batch, cache);
        }
        var (q, k, v) = rope.SplitAndRotate(qkv, ropeStep, _heads, _kvHeads, _c.HeadDim);
        return attention.Forward(_index, q, k, v, batch, cache);
    }

    public IEnumerable<ILinearKernel> Linears => [QkvProj, OProj, GateUpProj, DownProj];

    public void Dispose()
    {
        InputNorm.Dispose();
        PostAttentionNorm.Dispose();
        foreach (var l in Linears) l.Dispose();
    }
}
