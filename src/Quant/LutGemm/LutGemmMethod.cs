using InferenceServer.Quant.Formats;
using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models.Quantization;
using static TorchSharp.torch;

namespace InferenceServer.Quant.LutGemm;

/// <summary>
/// <c>--quantization lutgemm</c>: every decoder linear layer quantized weight-only to BCQ (<see cref="BcqQuantizer"/>)
/// and served by LUT-GEMM; activations stay in the serving dtype. With <see cref="Prequantized"/> set it reads a
/// checkpoint written by <c>quantize</c> (<see cref="LutGemmCheckpoint"/>) instead, with no re-quantization.
/// lm_head and embeddings are not linear layers of the builder and stay in the serving dtype.
/// </summary>
public sealed class LutGemmMethod(LutGemmOptions options, bool prequantized = false) : IQuantMethod
{
    public const string MethodName = "lutgemm";

    public string Name => MethodName;
    public LutGemmOptions Options => options;
    public bool Prequantized => prequantized;

    public bool AppliesTo(LinearSpec spec) => true;

    public ILinearKernel Create(LinearSpec spec, Tensor weight, Tensor? bias)
    {
        if (prequantized)
            throw new ModelLoadException($"{spec.Name}: a lutgemm checkpoint stores quantized layers; this one has no {LutGemmCheckpoint.SignsSuffix}.");
        CheckGroupSize(spec);
        float[] w;
        using (var cpu = weight.to(ScalarType.Float32, CPU).contiguous())
        {
            w = new float[cpu.numel()];
            cpu.data<float>().CopyTo(w);
        }
        weight.Dispose();
        var packed = BcqQuantizer.Quantize(w, spec.OutFeatures, spec.InFeatures, options.Bits, options.GroupSize, options.Init, options.RefinementRounds);
        return LutGemmLinearKernel.FromHost(packed, bias, spec.Device, spec.Kernels, options.Kernel, spec.Dtype);
    }

    /// <summary>
    /// Random signs and scales made directly in packed form (for <c>--load-format dummy</c>), never a float weight:
    /// α[i] = 0.02·2^-i / √(Σ_j 4^-j) gives weights of standard deviation 0.02, offsets are 0.
    /// </summary>
    public ILinearKernel CreateDummy(LinearSpec spec)
    {
        CheckGroupSize(spec);
        int q = options.Bits, words = BcqWeights.WordsFor(spec.InFeatures), groups = BcqWeights.GroupsFor(spec.InFeatures, options.GroupSize);
        double norm = Math.Sqrt(Enumerable.Range(0, q).Sum(i => Math.Pow(4, -i)));
        var signs = randint(int.MinValue, int.MaxValue, [q, words, spec.OutFeatures], ScalarType.Int32, spec.Device);
        var scale = tensor(Enumerable.Range(0, q).Select(i => (float)(0.02 * Math.Pow(2, -i) / norm)).ToArray(), ScalarType.Float32, spec.Device);
        var alpha = scale.view(q, 1, 1).expand(q, groups, spec.OutFeatures).contiguous();
        scale.Dispose();
        var offset = zeros([groups, spec.OutFeatures], ScalarType.Float32, spec.Device);
        var bias = spec.HasBias ? zeros([spec.OutFeatures], spec.Dtype, spec.Device) : null;
        return LutGemmLinearKernel.FromTensors(signs, alpha, offset, spec.InFeatures, options.GroupSize, bias, spec.Kernels, options.Kernel, spec.Dtype);
    }

    public ILinearKernel? LoadPrequantized(LinearSpec spec, IWeightSource weights) =>
        prequantized ? LutGemmCheckpoint.Load(spec, weights, options) : null;

    /// <summary>The group size must divide K, as <c>--group-size</c> promises for every weight-quantizing method.</summary>
    private void CheckGroupSize(LinearSpec spec)
    {
        if (spec.InFeatures % options.GroupSize != 0)
            throw new ArgumentException($"--group-size {options.GroupSize} does not divide the input size {spec.InFeatures} of {spec.Name}; choose a divisor of it (a multiple of {BcqWeights.ChunkSize}).");
    }
}
