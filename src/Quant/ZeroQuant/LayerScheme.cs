namespace InferenceServer.Quant.ZeroQuant;

/// <summary>How one linear layer is quantized: group-wise weights of <paramref name="WeightBits"/> bits in groups of
/// <paramref name="GroupSize"/> input channels, and activations INT8 per token (8) or unquantized (16).</summary>
public sealed record LayerScheme(int WeightBits, int GroupSize, bool Symmetric, int ActivationBits)
{
    /// <summary>"W4A16 g128 asym" style, for logs and docs.</summary>
    public override string ToString() => $"W{WeightBits}A{ActivationBits} g{GroupSize} {(Symmetric ? "sym" : "asym")}";
}

/// <summary>
/// A per-layer override: the layers it matches get these fields changed (null keeps the global value), or stay in
/// full precision when <see cref="Skip"/>.
/// </summary>
public sealed record LayerOverride(int? WeightBits = null, int? GroupSize = null, bool? Symmetric = null, int? ActivationBits = null, bool Skip = false)
{
    public LayerScheme? Apply(LayerScheme scheme) => Skip ? null : new LayerScheme(
        WeightBits ?? scheme.WeightBits, GroupSize ?? scheme.GroupSize, Symmetric ?? scheme.Symmetric, ActivationBits ?? scheme.ActivationBits);
}
