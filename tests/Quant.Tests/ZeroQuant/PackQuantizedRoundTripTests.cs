using System.Text.Json.Nodes;
using InferenceServer.Engine.Batching;
using InferenceServer.Engine.KvCache;
using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models;
using InferenceServer.Engine.Models.Architectures;
using InferenceServer.Quant.CompressedTensors;
using InferenceServer.TestSupport;
using static TorchSharp.torch;

namespace InferenceServer.Quant.Tests.ZeroQuant;

/// <summary>
/// quantize → serve: a zeroquant model written as compressed-tensors pack-quantized and loaded back gives logits
/// bit-equal to quantizing at startup, on a decode-sized chunk (the packed-code kernel) and a prefill chunk
/// (dequantize + GEMM). The mixed case has three config groups (W8A8 attention, W4A8 MLP, one layer W8 g64) and an
/// ignored layer.
/// </summary>
public sealed class PackQuantizedRoundTripTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WrittenCheckpointServesBitEqualLogits(bool mixed)
    {
        var method = mixed
            ? ZeroQuantTestModels.Method(("mixed-precision", "true"), ("weight-symmetric", "true"),
                ("quant-override", "model.layers.1.mlp.down_proj=bits=8,group=64\nmodel.layers.2.self_attn.o_proj=none"))
            : ZeroQuantTestModels.Method(("weight-bits", "4"), ("group-size", "128"));
        var capture = new CapturingQuantMethod(method);
        var dir = Directory.CreateTempSubdirectory("ct-packed-").FullName;
        try
        {
            Tensor expected;
            using (var model = ModelFactory.Load(QuantTestModels.Config, QuantTestModels.Options(false) with { Quantization = capture }))
            {
                expected = Logits(model);
                using var checkpoint = new Checkpoint(RepoPaths.TinyLlama);
                CompressedTensorsWriter.Write(dir, checkpoint, new CheckpointWeightSource(checkpoint), ScalarType.Float32, capture.Layers, skipped: capture.Skipped);
            }
            var config = ModelConfig.Load(dir);
            var qc = config.QuantizationConfig!;
            Assert.Equal("pack-quantized", qc["format"]!.GetValue<string>());
            Assert.Equal(mixed ? 3 : 1, qc["config_groups"]!.AsObject().Count);
            Assert.Contains("lm_head", qc["ignore"]!.AsArray().Select(n => n!.GetValue<string>()));
            if (mixed) Assert.Contains("model.layers.2.self_attn.o_proj", qc["ignore"]!.AsArray().Select(n => n!.GetValue<string>()));
            using (var written = new Checkpoint(dir))
            {
                var part = "model.layers.0.mlp.gate_proj";
                Assert.Equal(ScalarType.Int32, written.Entry(part + ".weight_packed").Dtype);
                Assert.Equal([(long)config.IntermediateSize, config.HiddenSize / 8], written.Entry(part + ".weight_packed").Shape);
                Assert.Equal(!mixed, written.Contains(part + ".weight_zero_point"));
                Assert.False(written.Contains(part + ".weight"));
            }
            var loaded = QuantMethods.CreateRegistry().ForCheckpoint(config, Path.Combine(dir, "config.json"));
            Assert.IsType<CompressedTensorsGroupwiseMethod>(loaded);
            using var reloaded = ModelFactory.Load(config, new ModelOptions { ModelDir = dir, Device = CPU, Dtype = ScalarType.Float32, Quantization = loaded! });
            using var actual = Logits(reloaded);
            Assert.True(expected.shape.SequenceEqual(actual.shape) && expected.eq(actual).all().item<bool>(), $"logits differ by up to {(expected - actual).abs().max().item<float>()}");
            expected.Dispose();
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData("num_bits", 3, "num_bits")]
    [InlineData("strategy", "channel", "strategy")]
    [InlineData("actorder", "group", "actorder")]
    [InlineData("type", "float", "type")]
    public void UnsupportedFieldsAreRefusedByName(string field, object value, string named)
    {
        var qc = new PackQuantizedScheme([(["Linear"], new Quant.ZeroQuant.LayerScheme(4, 128, false, 16))], ["lm_head"]).ToJson();
        qc["config_groups"]!["group_0"]!["weights"]![field] = JsonValue.Create(value);
        var e = Assert.Throws<ModelLoadException>(() => PackQuantizedScheme.Parse(qc));
        Assert.Contains(named, e.Message);
    }

    [Fact]
    public void KvCacheSchemesAndStaticActivationsAreRefused()
    {
        var qc = new PackQuantizedScheme([(["Linear"], new Quant.ZeroQuant.LayerScheme(4, 128, false, 8))], []).ToJson();
        qc["config_groups"]!["group_0"]!["input_activations"]!["dynamic"] = false;
        Assert.Contains("input_activations", Assert.Throws<ModelLoadException>(() => PackQuantizedScheme.Parse(qc)).Message);
        var kv = new PackQuantizedScheme([(["Linear"], new Quant.ZeroQuant.LayerScheme(4, 128, false, 16))], []).ToJson();
        kv["kv_cache_scheme"] = new JsonObject { ["num_bits"] = 8 };
        Assert.Contains("kv_cache_scheme", Assert.Throws<ModelLoadException>(() => PackQuantizedScheme.Parse(kv)).Message);
    }

    [Fact]
    public void ZeroPointsPackAlongTheOutputDimension()
    {
        // pack_to_int32(packed_dim=0): rows 0..7 of one group column share a word, row r at bits 4r.
        var codes = new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9 };        // [9 rows, 1 group]
        var words = CompressedTensorsGroupwiseMethod.PackRows(codes, 9, 1, 4);
        Assert.Equal([unchecked((int)0x87654321), 9], words);
        Assert.Equal(codes, CompressedTensorsGroupwiseMethod.UnpackRows(words, 9, 1, 4));
    }

    /// <summary>Logits of a 5-token chunk (≤ 16 rows: the packed-code kernel) and a 64-token chunk (prefill path), [5 + 64, V].</summary>
    private static Tensor Logits(ICausalLM model)
    {
        var stream = QuantTestModels.ReferenceStream.Value;
        const int blockSize = 16;
        using var cache = new KvCachePool(model.Config.NumLayers, 8, blockSize, model.Config.NumKvHeads, model.Config.HeadDim, model.Dtype, model.Device);
        var chunks = new List<SequenceChunk>
        {
            new(stream.Take(5).ToArray(), 0, [0], AllLogits: true),
            new(stream.Skip(100).Take(64).ToArray(), 0, [1, 2, 3, 4], AllLogits: true),
        };
        var results = new List<Tensor>();
        foreach (var chunk in chunks)
        {
            using var batch = ForwardBatchBuilder.Build([chunk], blockSize, model.Device);
            results.Add(model.Forward(batch, cache));
        }
        var all = cat(results, 0);
        foreach (var r in results) r.Dispose();
        return all;
    }
}
