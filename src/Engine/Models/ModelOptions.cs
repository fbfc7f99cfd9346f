using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models.Quantization;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Models;

/// <summary>How to load a model: where from, in which dtype, on which device, with which linear-layer format.</summary>
public sealed record ModelOptions
{
    public required string ModelDir { get; init; }
    public required Device Device { get; init; }
    public required ScalarType Dtype { get; init; }
    /// <summary>"auto" (safetensors) or "dummy" (random weights, config.json only).</summary>
    public string LoadFormat { get; init; } = "auto";
    public IQuantMethod Quantization { get; init; } = UnquantizedMethod.Instance;
    /// <summary>Overrides the config's max_position_embeddings when set (--max-model-len).</summary>
    public int? MaxModelLen { get; init; }
    public long Seed { get; init; }

    /// <summary>Use the native CUDA kernels (paged attention, CUDA graphs) when the library is found.</summary>
    public bool UseNativeKernels { get; init; } = true;

    /// <summary>
    /// The rank of a tensor-parallel group this model is one share of (see <see cref="Architectures.ShardedModel"/>);
    /// null loads the whole model.
    /// </summary>
    public Parallel.ICommunicator? Communicator { get; init; }

    /// <summary>
    /// Wraps the checkpoint's weight source before any layer is built (SmoothQuant folds its smoothing scales into
    /// norms and projections this way; tests build transformed models from committed ones). Not applied to dummy weights.
    /// </summary>
    public Func<IWeightSource, IWeightSource>? WeightTransform { get; init; }
}
