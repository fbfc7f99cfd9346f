namespace InferenceServer.Engine.Loading;

/// <summary>
/// Rotary embedding parameters, from either config form: the old <c>rope_theta</c> + <c>rope_scaling</c>
/// or the new (transformers 5) <c>rope_parameters</c>.
/// </summary>
public sealed record RopeScaling(
    double Theta,
    string Type,
    double Factor = 1.0,
    double LowFreqFactor = 1.0,
    double HighFreqFactor = 4.0,
    int OriginalMaxPositionEmbeddings = 8192)
{
    public static readonly string[] SupportedTypes = ["default", "linear", "llama3"];
}
