namespace InferenceServer.StructuredOutputs;

/// <summary>
/// A constraint that cannot be compiled: a JSON Schema keyword outside the supported subset, a malformed schema or
/// regex. <see cref="Keyword"/> names the offending schema keyword (or regex construct) when there is one, so a
/// server can answer 400 naming it.
/// </summary>
public sealed class GrammarException(string message, string? keyword = null) : Exception(message)
{
    public string? Keyword { get; } = keyword;
}
