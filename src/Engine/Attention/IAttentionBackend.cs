using InferenceServer.Engine.KvCache;
using InferenceServer.Engine.Runner;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Attention;

/// <summary>Writes a layer's new keys/values into the paged cache and attends over each sequence's context.</summary>
public interface IAttentionBackend
{
    /// <param name="q">[T, H, D] rotated queries.</param>
    /// <param name="k">[T, KV, D] rotated new keys.</param>
    /// <param name="v">[T, KV, D] new values.</param>
    /// <returns>[T, H·D] attention output.</returns>
    Tensor Forward(int layer, Tensor q, Tensor k, Tensor v, ForwardBatch batch, KvCachePool cache);

    /// <summary>As <see cref="Forward"/>, when the caller already stored k and v in the cache (fused into rotary).</summary>
    Tensor AttendWritten(int layer, Tensor q, Tensor k, Tensor v, ForwardBatch batch, KvCachePool cache);
}
