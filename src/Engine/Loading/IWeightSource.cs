using static TorchSharp.torch;

namespace InferenceServer.Engine.Loading;

/// <summary>How a dummy (random) weight is initialised; real checkpoints ignore it.</summary>
public enum WeightInit
{
    /// <summary>Projection and embedding matrices: N(0, std²).</summary>
    Normal,
    /// <summary>Norm scales.</summary>
    Ones,
    /// <summary>Biases and norm shifts.</summary>
    Zeros,
}

/// <summary>Where a model's weights come from: a checkpoint on disk, or random values for benchmarks.</summary>
public interface IWeightSource
{
    bool Has(string name);

    /// <summary>Returns the named tensor with the expected shape, converted to <paramref name="dtype"/> on <paramref name="device"/>.</summary>
    Tensor Get(string name, long[] shape, ScalarType dtype, Device device, WeightInit init = WeightInit.Normal);
}
