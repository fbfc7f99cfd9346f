using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models;
using InferenceServer.Engine.Models.Architectures;
using InferenceServer.Engine.Models.Quantization;
using InferenceServer.Engine.Parallel;
using InferenceServer.TestSupport;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Tests.Parallel;

/// <summary>
/// The rule quantized kernels declare for tensor parallelism: a share that would cut a quantization group (a scale,
/// zero point or BCQ α shared by a group of input columns) is refused before any rank serves, naming the layer, the
/// column and the group; a format that cannot be split at all is refused by name.
/// </summary>
public sealed class ShardRefusalTests
{
    private static ModelOptions Options(IQuantMethod method) =>
        new() { ModelDir = RepoPaths.TinyLlama, Device = CPU, Dtype = ScalarType.Float32, Quantization = method };

    [Fact]
    public void AShareThatWouldCutAGroupIsRefusedNamingTheLayerAndTheGroup()
    {
        var config = ModelConfig.Load(RepoPaths.TinyLlama);   // o_proj: 256 input columns, 128 per rank at -tp 2
        var e = Assert.Throws<ModelLoadException>(() => ShardedModel.Load(config, Options(new GroupedMethod(96)), 2));
        Assert.Contains("--tensor-parallel-size 2 would split model.layers.0.self_attn.o_proj's input columns at 128, inside a quantization group of 96", e.Message);
    }

    [Fact]
    public void GroupsThatDivideEveryShareLoadAndMatchOneDevice()
    {
        var config = ModelConfig.Load(RepoPaths.TinyLlama);   // 64 divides 256/2 and 768/2
        using var sharded = ShardedModel.Load(config, Options(new GroupedMethod(64)), 2);
        Assert.Equal(2, sharded.Size);
    }

    [Fact]
    public void AFormatThatCannotBeSplitIsRefusedByName()
    {
        var config = ModelConfig.Load(RepoPaths.TinyLlama);
        var e = Assert.Throws<ModelLoadException>(() => ShardedModel.Load(config, Options(new UnsplittableMethod()), 2));
        Assert.Contains("model.layers.0.self_attn.qkv_proj is stored as UnsplittableKernel, which cannot be split across ranks", e.Message);
    }

    /// <summary>Dense weights declared as quantized in groups of <paramref name="group"/> input columns.</summary>
    private sealed class GroupedMethod(int group) : IQuantMethod
    {
        public string Name => "grouped-test";
        public bool AppliesTo(LinearSpec spec) => true;
        public ILinearKernel Create(LinearSpec spec, Tensor weight, Tensor? bias) => new GroupedKernel(new DenseLinearKernel(weight, bias), group);
        public ILinearKernel CreateDummy(LinearSpec spec) => throw new NotSupportedException();
    }

    private sealed class GroupedKernel(DenseLinearKernel inner, int group) : IShardableLinearKernel
    {
        public int InFeatures => inner.InFeatures;
        public int OutFeatures => inner.OutFeatures;
        public long WeightBytes => inner.WeightBytes;
        public ShardGranularity Granularity => new(1, group);
        public Tensor Forward(Tensor x) => inner.Forward(x);
        public ILinearKernel TakeRows(IReadOnlyList<(int Start, int Count)> ranges) => inner.TakeRows(ranges);
        public IRowParallelLinear TakeColumns(int start, int count) => inner.TakeColumns(start, count);
        public void Dispose() => inner.Dispose();
    }

    private sealed class UnsplittableMethod : IQuantMethod
    {
        public string Name => "unsplittable-test";
        public bool AppliesTo(LinearSpec spec) => true;
        public ILinearKernel Create(LinearSpec spec, Tensor weight, Tensor? bias) => new UnsplittableKernel(new DenseLinearKernel(weight, bias));
        public ILinearKernel CreateDummy(LinearSpec spec) => throw new NotSupportedException();
    }

    private sealed class UnsplittableKernel(DenseLinearKernel inner) : ILinearKernel
    {
        public int InFeatures => inner.InFeatures;
        public int OutFeatures => inner.OutFeatures;
        public long WeightBytes => inner.WeightBytes;
        public Tensor Forward(Tensor x) => inner.Forward(x);
        public void Dispose() => inner.Dispose();
    }
}
