using static TorchSharp.torch;

namespace InferenceServer.Engine.Kernels;

/// <summary>
/// The attention entries of the native library: the paged decode kernel of paged_attention.cu (with or without the
/// step's rotary embedding and cache write) and ATen's varlen flash attention for prefill chunks.
/// </summary>
public sealed unsafe partial class NativeKernels
{
    private IntPtr _pagedDecode, _pagedDecodeRope, _varlenAttention;

    /// <summary>out [B,H,D] ← attention of q [B,H,D] over each row's paged context (tables [B,M] int32, lens [B] int32).</summary>
    public void PagedDecodeAttention(Tensor output, Tensor q, Tensor kCache, Tensor vCache, Tensor tables, Tensor lens, double scale, int blockSize, int window)
    {
        var f = (delegate* unmanaged<IntPtr, IntPtr, IntPtr, IntPtr, IntPtr, IntPtr, double, int, int, int>)Export(ref _pagedDecode, "ik_paged_decode_attention");
        Check(f(output.Handle, q.Handle, kCache.Handle, vCache.Handle, tables.Handle, lens.Handle, scale, blockSize, window), "paged decode attention");
    }

    /// <summary>
    /// out [B,H,D] ← <see cref="PagedDecodeAttention"/> for the unrotated qkv rows [B, (H + 2·KV)·D] of a decode step, in
    /// one launch that also rotates q and the step's keys at positions [B] (cos/sin [maxPos, D] float32) and stores
    /// the keys and values at slots [B] (int64) of the caches: bit-equal to <see cref="RotaryQkCache"/> then
    /// <see cref="PagedDecodeAttention"/>. qkv is left as it was.
    /// </summary>
    public void PagedDecodeAttentionRope(Tensor output, Tensor qkv, Tensor kCache, Tensor vCache, Tensor tables, Tensor lens, Tensor positions, Tensor cos,
        Tensor sin, Tensor slots, double scale, int blockSize, int window)
    {
        var f = (delegate* unmanaged<IntPtr, IntPtr, IntPtr, IntPtr, IntPtr, IntPtr, IntPtr, IntPtr, IntPtr, IntPtr, double, int, int, int>)Export(
            ref _pagedDecodeRope, "ik_paged_decode_attention_rope");
        Check(f(output.Handle, qkv.Handle, kCache.Handle, vCache.Handle, tables.Handle, lens.Handle, positions.Handle, cos.Handle, sin.Handle,
            slots.Handle, scale, blockSize, window), "paged decode attention with rotary");
    }

    /// <summary>
    /// output [Tq,H,D] ← causal attention of each sequence's queries (rows cuQ[i]..cuQ[i+1] of q [Tq,H,D]) against its
    /// keys/values (rows cuK[i]..cuK[i+1] of k/v [Tk,KV,D]), all sequences in one flash-attention call; float16/bfloat16.
    /// </summary>
    public void VarlenAttention(Tensor output, Tensor q, Tensor k, Tensor v, Tensor cuQ, Tensor cuK, int maxQ, int maxK, double scale, int window)
    {
        var f = (delegate* unmanaged<IntPtr, IntPtr, IntPtr, IntPtr, IntPtr, IntPtr, int, int, double, int, int>)Export(ref _varlenAttention, "ik_varlen_attention");
        Check(f(output.Handle, q.Handle, k.Handle, v.Handle, cuQ.Handle, cuK.Handle, maxQ, maxK, scale, window), "varlen attention");
    }
}
