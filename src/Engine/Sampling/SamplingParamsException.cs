namespace InferenceServer.Engine.Sampling;

/// <summary>
/// A sampling parameter is out of range. <see cref="Param"/> is the OpenAI/vLLM request field name
/// (e.g. "temperature", "top_p", "logit_bias") so the HTTP layer can report it as the error's <c>param</c>.
/// </summary>
public sealed class SamplingParamsException(string param, string message) : ArgumentException(message, param)
{
    /// <summary>The OpenAI request field that is invalid.</summary>
    public string Param { get; } = param;
}
