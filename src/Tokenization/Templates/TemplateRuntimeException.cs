namespace InferenceServer.Tokenization.Templates;

/// <summary>
/// Rendering failed: the template called <c>raise_exception(msg)</c> (then <see cref="Exception.Message"/> is
/// exactly <c>msg</c>, which is what a client should see), or an operation failed the way it fails in jinja2
/// (undefined value misused, type error, …), with a message worded like Python's.
/// </summary>
public sealed class TemplateRuntimeException : Exception
{
    public TemplateRuntimeException(string message, TemplateErrorKind kind = TemplateErrorKind.Runtime, int? line = null)
        : base(message)
    {
        Kind = kind;
        Line = line;
    }

    public TemplateErrorKind Kind { get; }

    /// <summary>1-based line of the template statement or expression that failed, when known.</summary>
    public int? Line { get; internal set; }
}

/// <summary>Which Python/jinja2 exception the failure corresponds to.</summary>
public enum TemplateErrorKind
{
    /// <summary><c>raise_exception()</c> in the template (jinja2 <c>TemplateError</c>): a deliberate refusal, e.g. an unsupported role.</summary>
    Raised,

    /// <summary>An undefined value was used in a way jinja2's default <c>Undefined</c> forbids (<c>UndefinedError</c>).</summary>
    Undefined,

    /// <summary>A modifying method was called (jinja2's immutable sandbox <c>SecurityError</c>).</summary>
    Security,

    /// <summary>Type errors, bad arguments, division by zero and other runtime failures.</summary>
    Runtime,
}
