using InferenceServer.Engine.Models.Quantization;
using InferenceServer.Quant.ZeroQuant;
using static TorchSharp.torch;

namespace InferenceServer.Quant.Tests.ZeroQuant;

/// <summary>Per-layer schemes: defaults, mixed precision by layer type, overrides from the command line and a JSON file, and the refusals.</summary>
public sealed class ZeroQuantOptionsTests
{
    private static LinearSpec Spec(string name, params string[] parts) => new(name, 256, 256, false, ScalarType.Float32, CPU)
    {
        Parts = parts.Length == 0 ? [(name, 256)] : parts.Select(p => (p, 256 / parts.Length)).ToArray(),
    };

    private static readonly LinearSpec Qkv = Spec("model.layers.0.self_attn.qkv_proj",
        "model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj", "model.layers.0.self_attn.v_proj");
    private static readonly LinearSpec Down = Spec("model.layers.3.mlp.down_proj");

    [Fact]
    public void DefaultIsW4A16G128Asymmetric()
    {
        var o = ZeroQuantOptions.Parse(new QuantMethodOptions());
        Assert.Equal(new LayerScheme(4, 128, false, 16), o.SchemeFor(Qkv));
        Assert.Equal(0, o.Lkd.Steps);
    }

    [Fact]
    public void MixedPrecisionIsW8AttentionW4MlpA8()
    {
        var o = Parse(("mixed-precision", "true"));
        Assert.Equal(new LayerScheme(8, 128, false, 8), o.SchemeFor(Qkv));
        Assert.Equal(new LayerScheme(4, 128, false, 8), o.SchemeFor(Down));
        Assert.Equal(16, Parse(("mixed-precision", "true"), ("act-bits", "16")).SchemeFor(Down)!.ActivationBits);
    }

    [Fact]
    public void CommandLineOverridesMatchNamesSuffixesAndRegexesLaterWins()
    {
        var o = Parse(("quant-override", "down_proj=bits=8,group=64,sym\nre:.*layers\\.3\\..*=act=8\nmodel.layers.0.self_attn.k_proj=none"));
        Assert.Equal(new LayerScheme(8, 64, true, 8), o.SchemeFor(Down));
        Assert.Null(o.SchemeFor(Qkv));                                   // a part named: the whole fused layer
    }

    [Fact]
    public void JsonFileOverridesApplyBeforeCommandLine()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, """{"down_proj": {"weight_bits": 8, "group_size": 32}, "re:.*self_attn.*": "none"}""");
            var o = Parse(("quant-overrides-file", path), ("quant-override", "down_proj=group=64"));
            Assert.Equal(new LayerScheme(8, 64, false, 16), o.SchemeFor(Down));
            Assert.Null(o.SchemeFor(Qkv));
            File.WriteAllText(path, """{"down_proj": {"weight_bit": 8}}""");
            Assert.Contains("weight_bit", Assert.Throws<ArgumentException>(() => Parse(("quant-overrides-file", path))).Message);
            File.WriteAllText(path, "{not json");
            Assert.Contains(path, Assert.Throws<ArgumentException>(() => Parse(("quant-overrides-file", path))).Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("weight-bits", "3", "--weight-bits 3")]
    [InlineData("group-size", "100", "--group-size 100")]
    [InlineData("act-bits", "4", "--act-bits 4")]
    [InlineData("lkd-steps", "-1", "--lkd-steps -1")]
    [InlineData("lkd-lr", "0", "--lkd-lr 0")]
    [InlineData("quant-override", "down_proj=bits=5", "bits")]
    [InlineData("quant-override", "down_proj=colour=red", "colour=red")]
    [InlineData("quant-override", "down_proj", "PATTERN=SPEC")]
    [InlineData("quant-override", "re:([=none", "regular expression")]
    [InlineData("quant-overrides-file", "/nonexistent/o.json", "/nonexistent/o.json")]
    public void BadValuesAreRefusedNamingTheFlag(string key, string value, string named)
    {
        var e = Assert.Throws<ArgumentException>(() => Parse((key, value)));
        Assert.Contains(named, e.Message);
    }

    private static ZeroQuantOptions Parse(params (string Key, string Value)[] values) =>
        ZeroQuantOptions.Parse(new QuantMethodOptions { Values = values.ToDictionary(v => v.Key, v => v.Value) });
}
