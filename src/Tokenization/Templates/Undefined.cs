namespace InferenceServer.Tokenization.Templates;

/// <summary>
/// jinja2's default <c>Undefined</c>: what a missing variable, key, attribute or index evaluates to. It prints as "",
/// is false, iterates as empty, has length 0 and equals only another undefined; any other use (attribute or item
/// access, arithmetic, calling) raises with jinja2's message, e.g. <c>'dict object' has no attribute 'content'</c>.
/// </summary>
internal sealed class Undefined
{
    private readonly string? _hint;
    private readonly TemplateErrorKind _kind;

    private Undefined(string message, string? hint, TemplateErrorKind kind)
    {
        Message = message;
        _hint = hint;
        _kind = kind;
    }

    /// <summary>Why the value is undefined, worded like jinja2 (used when it is misused).</summary>
    public string Message { get; }

    public static Undefined ForName(string name) => new($"{PyRepr.Repr(name)} is undefined", null, TemplateErrorKind.Undefined);

    /// <summary>A failed <c>owner.name</c> or <c>owner[key]</c>.</summary>
    public static Undefined ForMember(object? owner, object? key) => key is string s
        ? new($"{PyRepr.Repr(PyRepr.ObjectTypeRepr(owner))} has no attribute {PyRepr.Repr(s)}", null, TemplateErrorKind.Undefined)
        : new($"{PyRepr.ObjectTypeRepr(owner)} has no element {PyRepr.Repr(key)}", null, TemplateErrorKind.Undefined);

    /// <summary>A method the immutable sandbox hides (list.append, dict.update, …): calling it raises SecurityError.</summary>
    public static Undefined Unsafe(object? owner, string name) =>
        new($"access to attribute {PyRepr.Repr(name)} of {PyRepr.Repr(PyRepr.TypeName(owner))} object is unsafe.", null, TemplateErrorKind.Security);

    /// <summary>A value with a custom message, e.g. a missing macro argument.</summary>
    public static Undefined WithHint(string hint) => new(hint, hint, TemplateErrorKind.Undefined);

    public TemplateRuntimeException Fail() => new(_hint ?? Message, _kind);

    public override string ToString() => "";
}
