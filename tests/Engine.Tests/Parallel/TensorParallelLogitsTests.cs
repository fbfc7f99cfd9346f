using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models;
using InferenceServer.Engine.Models.Architectures;
using InferenceServer.Engine.Tests.Support;
using InferenceServer.TestSupport;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Tests.Parallel;

/// <summary>
/// Tensor-parallel shares of tiny-llama and the Qwen2, Mistral and OPT fixtures, run on 2 and 4 in-process ranks,
/// against the same checkpoint on one device (fp32, CPU). The fixtures have 4 query and 2 KV heads, so size 4 also
/// replicates KV heads; their vocabularies (800–1000) leave the last rank a shorter vocabulary share.
/// </summary>
public sealed class TensorParallelLogitsTests
{
    /// <summary>
    /// Max |Δlogit| allowed, relative to the logit scale. Row-parallel layers (o_proj, down_proj, fc2) sum each dot
    /// product in a different order: every rank's partial sum over its K/size columns, then the all-reduce adds the
    /// partials, where one device runs one GEMM over K. Each float32 addition rounds at 2^-24 ≈ 6e-8 relative; over a
    /// few layers of a residual stream that stays around 1e-6 of the logit scale (measured here: at most 8.1e-7, tiny-llama
    /// -tp 4, 1.3e-5 at logit scale 16.5; the fixtures 3.9e-7–6.2e-7), so 2e-5 keeps a 25× margin and still fails for
    /// any real sharding mistake (a lost bias, a wrong head or KV-head share moves logits by 1e-2 or more).
    /// </summary>
    public const double Tolerance = 2e-5;

    public static TheoryData<string, int> Cases => new()
    {
        { "tiny-llama", 1 },   // a real group of one: the parallel layers and collectives on one rank
        { "tiny-llama", 2 }, { "tiny-llama", 4 },
        { "qwen2", 2 }, { "qwen2", 4 },
        { "mistral", 2 }, { "mistral", 4 },
        { "opt", 2 }, { "opt", 4 },
        { "opt-post-ln", 2 },
    };

    public static string Dir(string model) => model == "tiny-llama" ? RepoPaths.TinyLlama : RepoPaths.Fixture("hf", model);

    /// <summary>A deterministic prompt over the whole vocabulary (both ends of every rank's vocabulary share), 37 tokens: three KV blocks.</summary>
    public static int[] Prompt(int vocab) => [.. Enumerable.Range(0, 35).Select(i => (int)((i * 7919L + 3) % vocab)), 0, vocab - 1];

    [Theory]
    [MemberData(nameof(Cases))]
    public void ShardedLogitsAndGreedyIdsEqualOneDevice(string model, int size)
    {
        var config = ModelConfig.Load(Dir(model));
        var options = new ModelOptions { ModelDir = Dir(model), Device = CPU, Dtype = ScalarType.Float32 };
        using var whole = ModelFactory.Load(config, options);
        using var sharded = ShardedModel.Load(config, options, size);
        var ids = Prompt(config.VocabSize);
        using var expected = ModelTestRunner.PromptLogits(whole, ids);
        using var actual = ShardedTestRunner.PromptLogits(sharded, ids);
        Assert.Equal(expected.shape, actual.shape);
        double scale = Math.Max(1.0, expected.abs().max().item<float>());
        double err = (actual - expected).abs().max().item<float>();
        Assert.True(err <= Tolerance * scale, $"{model} -tp {size}: max |Δlogit| {err:E2} at logit scale {scale:F1}");
        TestContext.Current.TestOutputHelper?.WriteLine($"{model} -tp {size}: max |Δlogit| {err:E2}, logit scale {scale:F1}");
        Assert.Equal(ModelTestRunner.Greedy(whole, ids, 8), ShardedTestRunner.Greedy(sharded, ids, 8));
    }

    [Fact]
    public void EachRankHoldsItsShareOfTheWeightsAndKvHeads()
    {
        var config = ModelConfig.Load(RepoPaths.TinyLlama);
        var options = new ModelOptions { ModelDir = RepoPaths.TinyLlama, Device = CPU, Dtype = ScalarType.Float32 };
        using var whole = ModelFactory.Load(config, options);
        using var two = ShardedModel.Load(config, options, 2);
        using var four = ShardedModel.Load(config, options, 4);
        Assert.All(two.Ranks, m => Assert.Equal(whole.LinearWeightBytes / 2, m.LinearWeightBytes));
        Assert.All(two.Ranks, m => Assert.Equal(1, m.KvHeads));
        Assert.All(four.Ranks, m => Assert.Equal(1, m.KvHeads));   // 2 KV heads over 4 ranks: each replicated on 2
        // Per rank at size 4 (fp32): a quarter of q, o, gate/up and down, but a whole KV head's k and v rows.
        long h = config.HiddenSize, q = config.NumHeads * config.HeadDim / 4, kv = config.HeadDim, i = config.IntermediateSize / 4;
        long perLayer = (q + 2 * kv) * h + h * q + 2 * i * h + h * i;
        Assert.All(four.Ranks, m => Assert.Equal(perLayer * config.NumLayers * sizeof(float), m.LinearWeightBytes));
    }

    [Theory]
    [InlineData(3, "the model's 4 attention heads do not divide among 3 ranks; sizes that divide this model: 1, 2, 4.")]
    [InlineData(8, "the model's 4 attention heads do not divide among 8 ranks")]
    public void ASizeThatDoesNotDivideTheModelIsRefusedWithTheSizesThatDo(int size, string message)
    {
        var config = ModelConfig.Load(RepoPaths.TinyLlama);
        var e = Assert.Throws<ModelLoadException>(() => ShardedModel.Load(config, new ModelOptions { ModelDir = RepoPaths.TinyLlama, Device = CPU, Dtype = ScalarType.Float32 }, size));
        Assert.Contains($"--tensor-parallel-size {size}: {message}", e.Message);
    }
}
