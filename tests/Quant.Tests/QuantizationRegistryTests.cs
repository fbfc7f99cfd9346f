using System.Text.Json.Nodes;
using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models.Quantization;
using InferenceServer.Quant.CompressedTensors;
using InferenceServer.Quant.SmoothQuant;

namespace InferenceServer.Quant.Tests;

/// <summary>
/// The registry answers both lookups (a --quantization name, a checkpoint's quant_method) from what its builder
/// was given, and nothing else: no process-wide table that a caller must fill first.
/// </summary>
public sealed class QuantizationRegistryTests
{
    private static readonly QuantizationRegistry Registry = QuantMethods.CreateRegistry();

    [Fact]
    public void NamesResolveToTheirMethods()
    {
        Assert.Equal(["lutgemm", "none", "smoothquant", "w8a8", "zeroquant"], Registry.Names);
        Assert.Same(UnquantizedMethod.Instance, Registry.Resolve(null));
        Assert.Same(UnquantizedMethod.Instance, Registry.Resolve("none"));
        Assert.Equal("smoothquant", Assert.IsType<W8A8Method>(Registry.Resolve("SmoothQuant")).Name);
        var w8a8 = Assert.IsType<W8A8Method>(Registry.Resolve("w8a8", new QuantMethodOptions { Values = new Dictionary<string, string> { ["act-scales"] = "static" } }));
        Assert.Equal(ActScaleMode.Static, w8a8.Options.ActScales);
        var lut = Assert.IsType<InferenceServer.Quant.LutGemm.LutGemmMethod>(Registry.Resolve("lutgemm", new QuantMethodOptions
        {
            Values = new Dictionary<string, string> { ["weight-bits"] = "3", ["group-size"] = "64", ["bcq-init"] = "uniform" },
        }));
        Assert.Equal((3, 64, InferenceServer.Quant.LutGemm.BcqInit.Uniform), (lut.Options.Bits, lut.Options.GroupSize, lut.Options.Init));
    }

    [Fact]
    public void UnknownNameIsRefusedWithTheKnownOnes()
    {
        var e = Assert.Throws<ArgumentException>(() => Registry.Resolve("awq"));
        Assert.Equal("--quantization awq is not supported; choose one of: lutgemm, none, smoothquant, w8a8, zeroquant.", e.Message);
    }

    [Fact]
    public void CheckpointQuantMethodResolvesThroughTheSameRegistry()
    {
        Assert.Equal(["compressed-tensors", "lutgemm"], Registry.CheckpointFormats);
        Assert.Null(Registry.ForCheckpoint(QuantTestModels.Config, "/m/config.json"));
        var prequantized = QuantTestModels.Config with { QuantizationConfig = new CompressedTensorsScheme(false, ["lm_head"]).ToJson() };
        Assert.IsType<CompressedTensorsW8A8Method>(Registry.ForCheckpoint(prequantized, "/m/config.json"));
        var packed = QuantTestModels.Config with { QuantizationConfig = new PackQuantizedScheme([(["Linear"], new Quant.ZeroQuant.LayerScheme(4, 128, false, 16))], ["lm_head"]).ToJson() };
        Assert.IsType<CompressedTensorsGroupwiseMethod>(Registry.ForCheckpoint(packed, "/m/config.json"));
        var noMethod = QuantTestModels.Config with { QuantizationConfig = new JsonObject() };
        Assert.Equal("/m/config.json: quantization_config has no quant_method.",
            Assert.Throws<ModelLoadException>(() => Registry.ForCheckpoint(noMethod, "/m/config.json")).Message);
    }

    [Fact]
    public void ARegistryKnowsOnlyWhatItsBuilderWasGiven()
    {
        var bare = new QuantizationRegistryBuilder().Build();
        Assert.Equal(["none"], bare.Names);
        Assert.Throws<ArgumentException>(() => bare.Resolve("w8a8"));
        var prequantized = QuantTestModels.Config with { QuantizationConfig = new CompressedTensorsScheme(false, []).ToJson() };
        Assert.Throws<ModelLoadException>(() => bare.ForCheckpoint(prequantized, "/m/config.json"));
        // One more method is one more call, and it may come from any assembly.
        var extended = new QuantizationRegistryBuilder().AddQuantMethods().AddMethod("custom", _ => UnquantizedMethod.Instance).Build();
        Assert.Equal(["custom", "lutgemm", "none", "smoothquant", "w8a8", "zeroquant"], extended.Names);
    }

    [Fact]
    public void ANameRegisteredTwiceIsAWiringError()
    {
        Assert.Contains("w8a8", Assert.Throws<InvalidOperationException>(() => new QuantizationRegistryBuilder().AddW8A8().AddW8A8()).Message);
        Assert.Contains("compressed-tensors", Assert.Throws<InvalidOperationException>(() => new QuantizationRegistryBuilder().AddCompressedTensors().AddCompressedTensors()).Message);
        Assert.Throws<InvalidOperationException>(() => new QuantizationRegistryBuilder().AddMethod("NONE", _ => UnquantizedMethod.Instance));
    }
}
