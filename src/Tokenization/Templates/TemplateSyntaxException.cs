namespace InferenceServer.Tokenization.Templates;

/// <summary>
/// A chat template could not be parsed (bad syntax, unknown tag, filter or test). Raised by
/// <see cref="ChatTemplate.Parse"/>, so a bad template is rejected when a model loads, not on its first request.
/// </summary>
public sealed class TemplateSyntaxException : Exception
{
    public TemplateSyntaxException(string detail, int line)
        : base($"{detail} (line {line})")
    {
        Detail = detail;
        Line = line;
    }

    /// <summary>The message without the location, worded like jinja2's.</summary>
    public string Detail { get; }

    /// <summary>1-based line of the template where the problem was found.</summary>
    public int Line { get; }
}
