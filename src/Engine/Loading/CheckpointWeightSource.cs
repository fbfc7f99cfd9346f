using static TorchSharp.torch;

namespace InferenceServer.Engine.Loading;

/// <summary>Weights read from a safetensors checkpoint, with a shape check that names the tensor and the folder.</summary>
public sealed class CheckpointWeightSource(Checkpoint checkpoint) : IWeightSource
{
    public bool Has(string name) => checkpoint.Contains(name);

    public Tensor Get(string name, long[] shape, ScalarType dtype, Device device, WeightInit init = WeightInit.Normal)
    {
        var entry = checkpoint.Entry(name);
        if (!entry.Shape.SequenceEqual(shape))
            throw new ModelLoadException(
                $"{checkpoint.Directory}: tensor {name} has shape [{string.Join(", ", entry.Shape)}], but config.json implies [{string.Join(", ", shape)}].");
        return checkpoint.Read(name, dtype, device);
    }
}
