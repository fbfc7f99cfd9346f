using System.CommandLine;
using InferenceServer.Server.ToolCalling;

namespace InferenceServer.Server.Cli;

/// <summary>--tool-call-parser and --enable-auto-tool-choice, vLLM's flags for reading tool calls out of model output.</summary>
public sealed class ToolCallingOptions
{
    public ToolCallingOptions()
    {
        Parser.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string?>() is { } name && ToolCallParsers.Create(name) is null)
                r.AddError($"--tool-call-parser '{name}' is not known; use one of {string.Join(", ", ToolCallParsers.Names)}.");
        });
    }

    public Option<string?> Parser { get; } = new("--tool-call-parser")
    {
        Description = $"How tool calls are read from the model's output: {string.Join(", ", ToolCallParsers.Names)} (vLLM's names; hermes for Hermes/Qwen2.5, llama3_json for Llama-3.1/3.2, mistral for Mistral).",
    };

    public Option<bool> EnableAutoToolChoice { get; } = new("--enable-auto-tool-choice")
    {
        Description = "Let the model decide when to call tools (tool_choice \"auto\", the default when a request has tools); needs --tool-call-parser.",
    };

    public IEnumerable<Option> All => [Parser, EnableAutoToolChoice];

    /// <summary>The parser name and the auto flag; the auto flag without a parser is a contradiction, as in vLLM.</summary>
    public (string? Parser, bool Auto) Value(ParseResult p)
    {
        var parser = p.GetValue(Parser);
        var auto = p.GetValue(EnableAutoToolChoice);
        if (auto && parser is null)
            throw new ArgumentException("--enable-auto-tool-choice needs --tool-call-parser (one of " + string.Join(", ", ToolCallParsers.Names) + ").");
        return (parser, auto);
    }
}
