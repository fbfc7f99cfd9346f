namespace InferenceServer.Quant.Calibration;

/// <summary>
/// What calibration saw, per linear layer (keyed by its fused name, e.g. <c>model.layers.0.self_attn.qkv_proj</c>):
/// max |X| per input channel over every calibration token, and max |W| per input column over the (fused) weight.
/// </summary>
public sealed class ActivationStats
{
    public Dictionary<string, float[]> InputAbsMax { get; } = new();
    public Dictionary<string, float[]> WeightAbsMax { get; } = new();
    /// <summary>Calibration tokens seen.</summary>
    public long Tokens { get; set; }
}
