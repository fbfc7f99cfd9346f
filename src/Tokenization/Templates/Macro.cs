using System.Text;

namespace InferenceServer.Tokenization.Templates;

/// <summary>
/// A <c>{% macro %}</c> (or the body of a <c>{% call %}</c> block, as <c>caller</c>): called with Python-style
/// arguments, it renders its body in a child of the scope it was defined in and returns the text.
/// Extra arguments are available as <c>varargs</c>/<c>kwargs</c>.
/// </summary>
internal sealed class Macro(string name, IReadOnlyList<(string Name, Expr? Default)> parameters, IReadOnlyList<Node> body, Scope definedIn) : ICallable
{
    public string Name { get; } = name;

    public object? Call(Interpreter interpreter, Arguments args)
    {
        var scope = definedIn.Child();
        var named = args.Named.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        for (var i = 0; i < parameters.Count; i++)
        {
            var (param, dflt) = parameters[i];
            if (i < args.Positional.Count) scope.Set(param, args.Positional[i]);
            else if (named.Remove(param, out var value)) scope.Set(param, value);
            else if (dflt is not null) scope.Set(param, interpreter.Eval(dflt, scope));
            else scope.Set(param, Undefined.WithHint($"parameter {PyRepr.Repr(param)} was not provided"));
        }

        scope.Set("varargs", new PyTuple([.. args.Positional.Skip(parameters.Count)]));
        if (named.Remove("caller", out var caller)) scope.Set("caller", caller);
        scope.Set("kwargs", named.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal));

        var output = new StringBuilder();
        interpreter.ExecuteNested(body, scope, output);
        return output.ToString();
    }
}
