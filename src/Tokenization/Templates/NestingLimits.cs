using System.Runtime.CompilerServices;

namespace InferenceServer.Tokenization.Templates;

/// <summary>
/// How deep a template and the values it renders may nest, so a hostile template or deeply nested message content
/// ends in a clean <see cref="TemplateSyntaxException"/> / <see cref="TemplateRuntimeException"/> instead of a stack
/// overflow (which .NET cannot catch: it ends the process). Each recursive step also asks the runtime whether enough
/// stack is left, which covers threads with small stacks whatever the counts.
/// </summary>
internal static class NestingLimits
{
    /// <summary>Nested blocks plus nested expressions (parentheses, brackets, unary operators) the parser accepts.</summary>
    /// <remarks>CPython's own parser stops at 200 nested parentheses; no chat template in use comes near 20.</remarks>
    public const int Parse = 128;

    /// <summary>Nesting of a value (lists in dicts in lists…) that tojson and repr write; the request JSON itself stops at 64.</summary>
    public const int Value = 256;

    public static bool StackLeft() => RuntimeHelpers.TryEnsureSufficientExecutionStack();

    /// <summary>Python's wording, since templates are written against jinja2.</summary>
    public static TemplateRuntimeException ValueTooDeep(string doing) =>
        new($"maximum recursion depth exceeded while {doing} (values nested more than {Value} deep)");
}
