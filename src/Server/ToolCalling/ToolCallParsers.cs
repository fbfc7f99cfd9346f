namespace InferenceServer.Server.ToolCalling;

/// <summary>The parsers <c>--tool-call-parser</c> accepts, by their vLLM names.</summary>
public static class ToolCallParsers
{
    public static readonly IReadOnlyList<string> Names = ["hermes", "llama3_json", "mistral"];

    /// <summary>The parser named <paramref name="name"/>, or null for a name not in <see cref="Names"/>.</summary>
    public static ToolCallParser? Create(string name) => name switch
    {
        "hermes" => new HermesToolCallParser(),
        "llama3_json" => new Llama3JsonToolCallParser(),
        "mistral" => new MistralToolCallParser(),
        _ => null,
    };
}
