namespace InferenceServer.Tokenization.Templates;

/// <summary>Arguments of a call, filter or test after evaluation: positional values then keyword values.</summary>
internal sealed class Arguments(IReadOnlyList<object?> positional, IReadOnlyList<KeyValuePair<string, object?>>? named = null)
{
    public static readonly Arguments None = new([]);

    public IReadOnlyList<object?> Positional { get; } = positional;

    public IReadOnlyList<KeyValuePair<string, object?>> Named { get; } = named ?? [];

    public int Count => Positional.Count + Named.Count;

    /// <summary>The parameter at <paramref name="position"/> or named <paramref name="name"/>, Python-style binding.</summary>
    public object? Get(int position, string name, object? fallback = null) =>
        TryGet(position, name, out var value) ? value : fallback;

    public bool TryGet(int position, string name, out object? value)
    {
        if (position >= 0 && position < Positional.Count)
        {
            value = Positional[position];
            return true;
        }

        foreach (var (key, v) in Named)
        {
            if (key == name)
            {
                value = v;
                return true;
            }
        }

        value = null;
        return false;
    }
}

/// <summary>Anything a template can call: globals, macros, bound string/dict methods, <c>loop.cycle</c>, <c>caller</c>.</summary>
internal interface ICallable
{
    string Name { get; }

    object? Call(Interpreter interpreter, Arguments args);
}

internal sealed class BuiltinFunction(string name, Func<Interpreter, Arguments, object?> body) : ICallable
{
    public string Name { get; } = name;

    public object? Call(Interpreter interpreter, Arguments args) => body(interpreter, args);
}

internal delegate object? FilterFn(Interpreter interpreter, object? value, Arguments args);

internal delegate bool TestFn(Interpreter interpreter, object? value, Arguments args);
