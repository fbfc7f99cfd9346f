using static TorchSharp.torch;

namespace InferenceServer.Engine.Models.Quantization;

/// <summary>An unquantized linear layer: W [out, in] and optional b [out] in the serving dtype.</summary>
public sealed class DenseLinearKernel(Tensor weight, Tensor? bias) : ILinearKernel
{
    public Tensor Weight { get; } = weight;
    public Tensor? Bias { get; } = bias;
    public int InFeatures => (int)Weight.shape[1];
    public int OutFeatures => (int)Weight.shape[0];
    public long WeightBytes => Weight.numel() * Weight.element_size();

    public Tensor Forward(Tensor x) => nn.functional.linear(x, Weight, Bias);

    public void Dispose()
    {
        Weight.Dispose();
        Bias?.Dispose();
    }
}
