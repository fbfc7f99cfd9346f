using InferenceServer.Quant.Formats;
using System.Text.Json.Nodes;
using InferenceServer.Engine.Batching;
using InferenceServer.Engine.KvCache;
using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models;
using InferenceServer.Engine.Models.Architectures;
using InferenceServer.Quant.CompressedTensors;
using InferenceServer.Quant.LutGemm;
using InferenceServer.TestSupport;
using static TorchSharp.torch;

namespace InferenceServer.Quant.Tests.LutGemm;

/// <summary>
/// lutgemm checkpoints: a model quantized at load time, written out and loaded back gives bit-equal logits (no
/// re-quantization); quantization_configs and tensors it cannot serve are refused by name; <c>--load-format dummy</c>
/// makes the packed weights directly.
/// </summary>
public sealed class LutGemmCheckpointTests
{
    private static readonly LutGemmOptions W3 = new() { Bits = 3, GroupSize = 128, Init = BcqInit.Greedy, Iterations = 3 };

    [Fact]
    public void WrittenCheckpointLoadsBackToBitEqualLogits()
    {
        var capture = new CapturingQuantMethod(new LutGemmMethod(W3));
        var options = QuantTestModels.Options(outliers: false) with { Quantization = capture };
        var prompt = QuantTestModels.ReferenceStream.Value.Take(48).ToArray();
        var dir = Directory.CreateTempSubdirectory("lutgemm-").FullName;
        try
        {
            float[] expected;
            using (var model = ModelFactory.Load(QuantTestModels.Config, options))
            {
                expected = Logits(model, prompt);
                using var checkpoint = new Checkpoint(RepoPaths.TinyLlama);
                LutGemmCheckpoint.Write(dir, checkpoint, new CheckpointWeightSource(checkpoint), ScalarType.Float32, capture.Layers, W3);
            }
            var config = ModelConfig.Load(dir);
            Assert.Equal("lutgemm", config.QuantizationConfig!["quant_method"]!.GetValue<string>());
            Assert.Equal(3, config.QuantizationConfig["bits"]!.GetValue<int>());
            using (var written = new Checkpoint(dir))
            {
                var k = "model.layers.0.self_attn.k_proj";            // fused layers are written as their checkpoint parts
                Assert.Equal(ScalarType.Int32, written.Entry(k + ".bcq_signs").Dtype);
                Assert.Equal([3L, 256 / 32, config.NumKvHeads * config.HeadDim], written.Entry(k + ".bcq_signs").Shape);
                Assert.Equal([3L, 256 / 128, config.NumKvHeads * config.HeadDim], written.Entry(k + ".bcq_alpha").Shape);
                Assert.False(written.Contains(k + ".weight"));
            }
            var method = QuantMethods.CreateRegistry().ForCheckpoint(config, Path.Combine(dir, "config.json"));
            Assert.True(method is LutGemmMethod { Prequantized: true });
            using var reloaded = ModelFactory.Load(config, new ModelOptions { ModelDir = dir, Device = CPU, Dtype = ScalarType.Float32, Quantization = method! });
            Assert.Equal(expected, Logits(reloaded, prompt));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("format", "gptq", "format \"gptq\"")]
    [InlineData("bits", 5, "bits 5")]
    [InlineData("group_size", 12, "group_size 12")]
    public void UnsupportedConfigsAreRefusedByField(string field, object value, string named)
    {
        var qc = LutGemmCheckpoint.ToJson(W3);
        qc[field] = JsonValue.Create(value);
        Assert.Contains(named, Assert.Throws<ModelLoadException>(() => LutGemmCheckpoint.Parse(qc)).Message);
    }

    [Fact]
    public void FullPrecisionCheckpointUnderALutGemmConfigIsRefused()
    {
        var config = QuantTestModels.Config with { QuantizationConfig = LutGemmCheckpoint.ToJson(W3) };
        var method = QuantMethods.CreateRegistry().ForCheckpoint(config, "/models/x/config.json")!;
        var e = Assert.Throws<ModelLoadException>(() => ModelFactory.Load(config, QuantTestModels.Options(false) with { Quantization = method }));
        Assert.Contains("model.layers.0.self_attn.q_proj.bcq_signs is missing", e.Message);
    }

    /// <summary>Dummy weights are made in BCQ form directly: the packed size is exactly the format's, and the model runs.</summary>
    [Fact]
    public void DummyLoadCreatesPackedWeightsDirectly()
    {
        var capture = new CapturingQuantMethod(new LutGemmMethod(W3));
        using var model = ModelFactory.Load(QuantTestModels.Config, QuantTestModels.Options(false) with { Quantization = capture, LoadFormat = "dummy", Seed = 3 });
        Assert.All(capture.Layers, l => Assert.IsType<LutGemmLinearKernel>(l.Kernel));
        long expected = capture.Layers.Sum(l =>
        {
            long n = l.Spec.OutFeatures, words = BcqWeights.WordsFor(l.Spec.InFeatures), groups = BcqWeights.GroupsFor(l.Spec.InFeatures, 128);
            return 3 * n * 4 * words + 3 * n * 4 * groups + 4 * groups * n;
        });
        Assert.Equal(expected, model.LinearWeightBytes);
        var logits = Logits(model, [1, 50, 60, 70, 80]);
        Assert.All(logits, v => Assert.True(float.IsFinite(v)));
    }

    /// <summary>Float32 logits [T, V] of every position of one prompt, flattened.</summary>
    private static float[] Logits(ICausalLM model, int[] tokens)
    {
        const int blockSize = 16;
        int blocks = (tokens.Length + blockSize - 1) / blockSize;
        var c = model.Config;
        using var cache = new KvCachePool(c.NumLayers, blocks, blockSize, c.NumKvHeads, c.HeadDim, model.Dtype, model.Device);
        using var scope = NewDisposeScope();
        using var batch = ForwardBatchBuilder.Build([new SequenceChunk(tokens, 0, Enumerable.Range(0, blocks).ToArray(), AllLogits: true)], blockSize, model.Device);
        return model.Forward(batch, cache).data<float>().ToArray();
    }
}
