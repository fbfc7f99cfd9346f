using System.Text.RegularExpressions;
using InferenceServer.Engine.Loading;
using InferenceServer.Quant.Calibration;

namespace InferenceServer.Quant.SmoothQuant;

/// <summary>
/// SmoothQuant's per-channel smoothing factors, one vector s [in] per norm whose output feeds only linear layers:
/// s_j = max|X_j|^α / max|W_j|^(1-α), with max|W_j| over all the norm's consumers (their fused weight's column j).
/// x·Wᵀ = (x / s)·(W·diag(s))ᵀ, and x / s is folded into the norm's weight (and bias) so it costs nothing at run time.
/// Keyed by the fused consumer's name (the key calibration records under).
/// </summary>
public sealed partial class SmoothingPlan
{
    private const float MinMax = 1e-5f; // keeps s away from 0 and ∞ on dead channels

    public IReadOnlyDictionary<string, float[]> Scales { get; }
    public double Alpha { get; }

    private SmoothingPlan(Dictionary<string, float[]> scales, double alpha)
    {
        Scales = scales;
        Alpha = alpha;
    }

    /// <summary>
    /// Llama/Mistral/Qwen2: input_layernorm → qkv_proj and post_attention_layernorm → gate_up_proj.
    /// OPT with LayerNorm before each sublayer: self_attn_layer_norm → qkv_proj and final_layer_norm → fc1.
    /// OPT-350m style (LayerNorm after the residual add) feeds the residual stream too, so nothing can be folded:
    /// the plan is empty there and those layers get plain W8A8.
    /// </summary>
    public static bool CanSmooth(ModelConfig config) => !config.IsOpt || config.DoLayerNormBefore;

    public static SmoothingPlan Build(ModelConfig config, ActivationStats stats, double alpha)
    {
        var scales = new Dictionary<string, float[]>();
        if (CanSmooth(config))
        {
            foreach (var (name, xMax) in stats.InputAbsMax)
            {
                if (!SmoothedConsumer().IsMatch(name)) continue;
                var wMax = stats.WeightAbsMax[name];
                var s = new float[xMax.Length];
                for (int j = 0; j < s.Length; j++)
                    s[j] = (float)(Math.Pow(Math.Max(xMax[j], MinMax), alpha) / Math.Pow(Math.Max(wMax[j], MinMax), 1 - alpha));
                scales[name] = s;
            }
        }
        return new SmoothingPlan(scales, alpha);
    }

    /// <summary>The smoothing key a checkpoint tensor belongs to, and whether it is the norm side (divide) or a consumer (multiply columns).</summary>
    public (string Key, bool IsNorm)? Classify(string tensorName)
    {
        var m = NormOrConsumer().Match(tensorName);
        if (!m.Success) return null;
        var layer = m.Groups["layer"].Value;
        var key = m.Groups["part"].Value switch
        {
            "input_layernorm" or "self_attn_layer_norm" or "self_attn.q_proj" or "self_attn.k_proj" or "self_attn.v_proj" => $"{layer}.self_attn.qkv_proj",
            "post_attention_layernorm" or "mlp.gate_proj" or "mlp.up_proj" => $"{layer}.mlp.gate_up_proj",
            _ => $"{layer}.fc1", // final_layer_norm, fc1
        };
        if (!Scales.ContainsKey(key)) return null;
        bool isNorm = m.Groups["part"].Value.EndsWith("norm", StringComparison.Ordinal);
        return isNorm || m.Groups["kind"].Value == "weight" ? (key, isNorm) : null; // consumer biases are unchanged
    }

    [GeneratedRegex(@"\.layers\.\d+\.(self_attn\.qkv_proj|mlp\.gate_up_proj|fc1)$")]
    private static partial Regex SmoothedConsumer();

    [GeneratedRegex(@"^(?<layer>.*\.layers\.\d+)\.(?<part>input_layernorm|post_attention_layernorm|self_attn_layer_norm|final_layer_norm|self_attn\.[qkv]_proj|mlp\.gate_proj|mlp\.up_proj|fc1)\.(?<kind>weight|bias)$")]
    private static partial Regex NormOrConsumer();
}
