using InferenceServer.Engine.Batching;
using InferenceServer.Engine.KvCache;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Attention;

/// <summary>Writes a layer's new keys/values into the paged cache and attends over each sequence's context.</summary>
public interface IAttentionBackend
{
    /// <summary>
    /// This backend's inputs for the batch (block tables, slot lists, layouts) on the batch's device. The model builds
    /// them once per forward pass, before its layers, into <see cref="ForwardBatch.Attention"/>, which
    /// <see cref="Forward"/> and <see cref="AttendWritten"/> then read.
    /// </summary>
    IAttentionMetadata BuildMetadata(ForwardBatch batch);

    /// <param name="q">[T, H, D] rotated queries.</param>
    /// <param name="k">[T, KV, D] rotated new keys.</param>
    /// <param name="v">[T, KV, D] new values.</param>
    /// <returns>[T, H·D] attention output.</returns>
    Tensor Forward(int layer, Tensor q, Tensor k, Tensor v, ForwardBatch batch, KvCachePool cache);

    /// <summary>As <see cref="Forward"/>, when the caller already stored k and v in the cache (fused into rotary).</summary>
    Tensor AttendWritten(int layer, Tensor q, Tensor k, Tensor v, ForwardBatch batch, KvCachePool cache);

    /// <summary>
    /// For a batch of one-token rows only: rotates q and the new keys of qkv [T, (H + 2·KV)·D] at
    /// <paramref name="positions"/> [T] with the rotary tables cos/sin [maxPos, D] float32, stores the keys and values
    /// in the cache and attends, in one launch → [T, H·D]. Null where the backend or the batch cannot; the caller then
    /// rotates and calls <see cref="Forward"/> or <see cref="AttendWritten"/>.
    /// </summary>
    Tensor? AttendDecodeRotating(int layer, Tensor qkv, Tensor positions, Tensor cos, Tensor sin, ForwardBatch batch, KvCachePool cache) => null;
}
