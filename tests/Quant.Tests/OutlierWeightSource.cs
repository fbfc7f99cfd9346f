using System.Text.Json;
using System.Text.RegularExpressions;
using InferenceServer.Engine.Loading;
using InferenceServer.TestSupport;
using static TorchSharp.torch;

namespace InferenceServer.Quant.Tests;

/// <summary>
/// tiny-llama-outliers, built on the fly from tiny-llama by src/Assets/fixtures/outliers.json: in every layer,
/// channels c of input_layernorm and post_attention_layernorm are multiplied by f_c and input column c of
/// q/k/v_proj and gate/up_proj divided by f_c. The FP function is unchanged, but the activations feeding those
/// projections get channels 15–60× larger than the rest, the outliers SmoothQuant is about. Done in float32 from
/// the bf16 weights, then rounded back to bf16.
/// </summary>
public sealed partial class OutlierWeightSource(IWeightSource inner) : IWeightSource
{
    private static readonly Lazy<(long[] Channels, float[] Factors)> Spec = new(() =>
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(RepoPaths.Fixture("outliers.json")));
        var r = doc.RootElement;
        return (r.GetProperty("outlier_channels").EnumerateArray().Select(x => x.GetInt64()).ToArray(),
                r.GetProperty("factors").EnumerateArray().Select(x => x.GetSingle()).ToArray());
    });

    public bool Has(string name) => inner.Has(name);

    public Tensor Get(string name, long[] shape, ScalarType dtype, Device device, WeightInit init = WeightInit.Normal)
    {
        var m = Target().Match(name);
        if (!m.Success) return inner.Get(name, shape, dtype, device, init);
        bool isNorm = m.Groups[1].Value.EndsWith("layernorm", StringComparison.Ordinal);
        using var scope = NewDisposeScope();
        var w = inner.Get(name, shape, ScalarType.Float32, device, init);              // [H] or [out, H]
        var (channels, factors) = Spec.Value;
        var f = ones([shape[^1]], ScalarType.Float32, device);
        f.index_put_(tensor(factors, ScalarType.Float32, device), tensor(channels, ScalarType.Int64, device));
        var t = isNorm ? w * f : w / f.unsqueeze(0);
        return t.to(ScalarType.BFloat16).to(dtype).MoveToOuterDisposeScope();
    }

    [GeneratedRegex(@"^model\.layers\.\d+\.(input_layernorm|post_attention_layernorm|self_attn\.[qkv]_proj|mlp\.gate_proj|mlp\.up_proj)\.weight$")]
    private static partial Regex Target();
}
