using InferenceServer.Engine.Batching;
using InferenceServer.Engine.KvCache;
using InferenceServer.Engine.Loading;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Models;

/// <summary>A decoder-only language model over a paged KV cache. It owns its weights.</summary>
public interface ICausalLM : IDisposable
{
    ModelConfig Config { get; }
    ScalarType Dtype { get; }
    Device Device { get; }

    /// <summary>The native CUDA library the model was built with (paged attention, fused ops), or null.</summary>
    Kernels.NativeKernels? Kernels { get; }

    /// <summary>Bytes of all linear-layer weights (quantized or not), lm_head excluded.</summary>
    long LinearWeightBytes { get; }

    /// <summary>KV heads this model's cache holds: all of them, or under tensor parallelism this rank's share.</summary>
    int KvHeads => Config.NumKvHeads;

    /// <summary>
    /// Runs the batch and returns float32 logits [N, V] for the rows in <see cref="ForwardBatch.LogitsRows"/>. Unless
    /// the caller set <see cref="ForwardBatch.Attention"/> already, the model's attention backend builds it first.
    /// </summary>
    Tensor Forward(ForwardBatch batch, KvCachePool cache);
}
