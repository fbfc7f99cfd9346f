using static TorchSharp.torch;

namespace InferenceServer.Engine.Models.Quantization;

/// <summary>
/// An unquantized linear layer: W [out, in] and optional b [out] in the serving dtype. Single-stream decode steps
/// (≤ <see cref="SkinnyMaxRows"/> rows) in float16/bfloat16 use the native skinny GEMM; everything else is cuBLAS /
/// MKL. On the H100 the two tie at one row except for 4096×4096 (14.0 vs 15.8 µs), and cuBLAS wins from 16 rows on
/// (docs/benchmarks/h100-w8a8.json), hence the small cut-off.
/// </summary>
public sealed class DenseLinearKernel(Tensor weight, Tensor? bias, Kernels.NativeKernels? kernels = null) : IShardableLinearKernel
{
    public const int SkinnyMaxRows = 8;
    private readonly bool _skinny = kernels is not null && (weight.dtype is ScalarType.BFloat16 or ScalarType.Float16) && weight.shape[1] % 8 == 0;

    public Tensor Weight { get; } = weight;
    public Tensor? Bias { get; } = bias;
    public int InFeatures => (int)Weight.shape[1];
    public int OutFeatures => (int)Weight.shape[0];
    public long WeightBytes => Weight.numel() * Weight.element_size();

    /// <param name="x">[T, in]; rows need unit stride for the skinny path.</param>
    public Tensor Forward(Tensor x) =>
        _skinny && x.shape[0] <= SkinnyMaxRows && x.stride(1) == 1 && x.stride(0) % 8 == 0
            ? kernels!.SkinnyLinear(x, Weight, Bias)
            : nn.functional.linear(x, Weight, Bias);

    public ShardGranularity Granularity => ShardGranularity.Any;

    public ILinearKernel TakeRows(IReadOnlyList<(int Start, int Count)> ranges) => new DenseLinearKernel(
        LinearSharding.StackRows(Weight, ranges), Bias is null ? null : LinearSharding.StackRows(Bias, ranges), kernels);

    public IRowParallelLinear TakeColumns(int start, int count) => new PartialSumLinear(
        new DenseLinearKernel(Weight.narrow(1, start, count).contiguous().clone(), null, kernels), Bias?.clone());

    public void Dispose()
    {
        Weight.Dispose();
        Bias?.Dispose();
    }
}
