using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models;
using InferenceServer.Engine.Models.Architectures;
using InferenceServer.Engine.Tests.Support;
using InferenceServer.TestSupport;
using static TorchSharp.torch;

namespace InferenceServer.Quant.Tests.ZeroQuant;

/// <summary>
/// A W4A16 checkpoint this project did not write: llama3-rope quantized to asymmetric int4 in groups of 32 and packed
/// by compressed-tensors' own pack_to_int32 (src/Assets/fixtures/hf/make_compressed_tensors_fixture.py, run with the
/// library's source). Served on the CPU it must give the logits and greedy ids of the same model fake-quantized in HF
/// transformers (float32), as any llm-compressor W4A16 checkpoint would.
/// </summary>
public sealed class LlmCompressorFixtureTests
{
    private static readonly string Dir = RepoPaths.Fixture("hf", "llama3-rope-w4a16-ct");

    [Fact]
    public void PackedByCompressedTensorsMatchesFakeQuantLogits()
    {
        var config = ModelConfig.Load(Dir);
        var method = QuantMethods.CreateRegistry().ForCheckpoint(config, Path.Combine(Dir, "config.json"));
        Assert.NotNull(method);
        Assert.Equal("compressed-tensors", method.Name);
        using var model = ModelFactory.Load(config, new ModelOptions { ModelDir = Dir, Device = CPU, Dtype = ScalarType.Float32, Quantization = method });
        // float32 on both sides; the kernel sums each group's products before scaling them, transformers multiplies the
        // dequantized weights: the difference is summation order, so the unquantized fixtures' 1e-4 tolerance holds here too.
        HfReferenceCheck.AssertMatchesTransformers(model, Dir, "llama3-rope-w4a16-ct");
    }
}
