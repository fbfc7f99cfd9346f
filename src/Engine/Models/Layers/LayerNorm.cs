using static TorchSharp.torch;

namespace InferenceServer.Engine.Models.Layers;

/// <summary>LayerNorm with elementwise affine weight and bias (OPT).</summary>
public sealed class LayerNorm(Tensor weight, Tensor bias, double eps = 1e-5) : IDisposable
{
    public Tensor Weight { get; } = weight;
    public Tensor Bias { get; } = bias;

    /// <param name="x">[T, H].</param>
    public Tensor Forward(Tensor x) => nn.functional.layer_norm(x, [Weight.shape[0]], Weight, Bias, eps);

    public void Dispose()
    {
        Weight.Dispose();
        Bias.Dispose();
    }
}
