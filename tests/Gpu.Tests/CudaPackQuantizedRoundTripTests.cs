using InferenceServer.Engine.Batching;
using InferenceServer.Engine.KvCache;
using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models;
using InferenceServer.Engine.Models.Architectures;
using InferenceServer.Engine.Models.Quantization;
using InferenceServer.Quant;
using InferenceServer.Quant.CompressedTensors;
using InferenceServer.Quant.Tests;
using InferenceServer.Quant.ZeroQuant;
using InferenceServer.TestSupport;
using static TorchSharp.torch;

namespace InferenceServer.Gpu.Tests;

/// <summary>
/// quantize → serve on CUDA: a zeroquant model quantized at load on the GPU, written as compressed-tensors
/// pack-quantized (the writer downloads the packed words, scales and zero points from the device) and loaded back on
/// the GPU gives bit-equal bf16 logits, on chunks that take the streaming kernel (5 and 64 tokens) and the dense
/// prefill path (160 tokens).
/// </summary>
public sealed class CudaPackQuantizedRoundTripTests(CudaFixture cuda) : IClassFixture<CudaFixture>
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void WrittenCheckpointServesBitEqualLogits(bool mixed)
    {
        var device = cuda.Require();
        var values = mixed
            ? new Dictionary<string, string> { ["mixed-precision"] = "true", ["weight-symmetric"] = "true", ["quant-override"] = "model.layers.1.mlp.down_proj=bits=8,group=64" }
            : new Dictionary<string, string> { ["weight-bits"] = "4", ["group-size"] = "128" };
        var capture = new CapturingQuantMethod(new ZeroQuantMethod(ZeroQuantOptions.Parse(new QuantMethodOptions { Values = values })));
        var dir = Directory.CreateTempSubdirectory("ct-packed-cuda-").FullName;
        try
        {
            Tensor expected;
            using (var model = ModelFactory.Load(QuantTestModels.Config, QuantTestModels.Options(false) with { Quantization = capture, Device = device, Dtype = ScalarType.BFloat16 }))
            {
                Assert.NotNull(model.Kernels);
                expected = Logits(model);
                using var checkpoint = new Checkpoint(RepoPaths.TinyLlama);
                CompressedTensorsWriter.Write(dir, checkpoint, new CheckpointWeightSource(checkpoint), ScalarType.BFloat16, capture.Layers, skipped: capture.Skipped);
            }
            var config = ModelConfig.Load(dir);
            var loaded = QuantMethods.CreateRegistry().ForCheckpoint(config, Path.Combine(dir, "config.json"));
            Assert.IsType<CompressedTensorsGroupwiseMethod>(loaded);
            using var reloaded = ModelFactory.Load(config, new ModelOptions { ModelDir = dir, Device = device, Dtype = ScalarType.BFloat16, Quantization = loaded! });
            using var actual = Logits(reloaded);
            Assert.True(expected.shape.SequenceEqual(actual.shape) && expected.eq(actual).all().item<bool>(),
                $"logits differ by up to {(expected - actual).abs().max().item<float>()}");
            expected.Dispose();
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static Tensor Logits(ICausalLM model)
    {
        var stream = QuantTestModels.ReferenceStream.Value;
        const int blockSize = 16;
        using var cache = new KvCachePool(model.Config.NumLayers, 24, blockSize, model.Config.NumKvHeads, model.Config.HeadDim, model.Dtype, model.Device);
        var chunks = new List<SequenceChunk>
        {
            new(stream.Take(5).ToArray(), 0, [0], AllLogits: true),
            new(stream.Skip(100).Take(64).ToArray(), 0, [1, 2, 3, 4], AllLogits: true),
            new(stream.Skip(300).Take(160).ToArray(), 0, [5, 6, 7, 8, 9, 10, 11, 12, 13, 14], AllLogits: true),
        };
        var results = new List<Tensor>();
        foreach (var chunk in chunks)
        {
            using var batch = ForwardBatchBuilder.Build([chunk], blockSize, model.Device);
            results.Add(model.Forward(batch, cache).cpu().to(ScalarType.Float32));
        }
        var all = cat(results, 0);
        foreach (var r in results) r.Dispose();
        return all;
    }
}
