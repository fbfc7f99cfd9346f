using static TorchSharp.torch;

namespace InferenceServer.Engine.Models.Quantization;

/// <summary>What a quant method needs to know about the linear layer it builds.</summary>
/// <param name="Name">Checkpoint prefix of the layer, e.g. <c>model.layers.0.self_attn.qkv_proj</c>.</param>
/// <param name="InFeatures">Input width (after any tensor-parallel split).</param>
/// <param name="OutFeatures">Output width (after any tensor-parallel split).</param>
/// <param name="Kernels">The model's native CUDA kernels, or null for the portable TorchSharp paths.</param>
public sealed record LinearSpec(string Name, int InFeatures, int OutFeatures, bool HasBias, ScalarType Dtype, Device Device,
    Kernels.NativeKernels? Kernels = null)
{
    /// <summary>Checkpoint prefixes stacked into this layer along the output dimension (q, k, v → qkv), with their widths.</summary>
    public IReadOnlyList<(string Name, int OutFeatures)> Parts { get; init; } = [(Name, OutFeatures)];
}

/// <summary>
/// A weight format for linear layers (unquantized, SmoothQuant W8A8, ZeroQuant, LUT-GEMM BCQ, ...), chosen from a
/// registry by name. Layers never switch on dtypes themselves: they ask the method for a kernel (vLLM's
/// <c>QuantizeMethodBase</c> pattern).
/// </summary>
public interface IQuantMethod
{
    /// <summary>The <c>--quantization</c> name, or "none".</summary>
    string Name { get; }

    /// <summary>True when the method wants no layer to be quantized (lm_head and embeddings never are).</summary>
    bool AppliesTo(LinearSpec spec);

    /// <summary>
    /// Builds the kernel from full-precision weights W [out, in] and bias [out] in the serving dtype on the device.
    /// Ownership of <paramref name="weight"/> and <paramref name="bias"/> passes to the method, which may dispose them
    /// once it has made its own format.
    /// </summary>
    ILinearKernel Create(LinearSpec spec, Tensor weight, Tensor? bias);

    /// <summary>Builds a kernel with random weights directly in its own format (for <c>--load-format dummy</c>).</summary>
    ILinearKernel CreateDummy(LinearSpec spec);

    /// <summary>
    /// Builds the kernel from a checkpoint that already holds the layer in this method's format (a prequantized
    /// checkpoint); null for methods that start from full-precision weights.
    /// </summary>
    ILinearKernel? LoadPrequantized(LinearSpec spec, Loading.IWeightSource weights) => null;
}
