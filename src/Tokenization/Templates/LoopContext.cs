namespace InferenceServer.Tokenization.Templates;

/// <summary>
/// The <c>loop</c> variable of a for-loop: index/index0/revindex/revindex0/first/last/length/depth/depth0,
/// previtem/nextitem, <c>cycle(...)</c>, <c>changed(...)</c>, and <c>loop(items)</c> in recursive loops.
/// </summary>
internal sealed class LoopContext(IReadOnlyList<object?> items, int depth0, Func<object?, string>? recurse) : ICallable
{
    private object? _lastChanged = Undefined.WithHint("no previous value");

    public int Index0 { get; set; }

    public string Name => "loop";

    public object? GetAttribute(string name) => name switch
    {
        "index" => (long)(Index0 + 1),
        "index0" => (long)Index0,
        "revindex" => (long)(items.Count - Index0),
        "revindex0" => (long)(items.Count - Index0 - 1),
        "first" => Index0 == 0,
        "last" => Index0 == items.Count - 1,
        "length" => (long)items.Count,
        "depth" => (long)(depth0 + 1),
        "depth0" => (long)depth0,
        "previtem" => Index0 > 0 ? items[Index0 - 1] : Undefined.WithHint("there is no previous item"),
        "nextitem" => Index0 + 1 < items.Count ? items[Index0 + 1] : Undefined.WithHint("there is no next item"),
        "cycle" => new BuiltinFunction("cycle", (_, args) =>
            args.Positional.Count == 0
                ? throw new TemplateRuntimeException("no items for cycling given")
                : args.Positional[Index0 % args.Positional.Count]),
        "changed" => new BuiltinFunction("changed", (_, args) =>
        {
            var value = new PyTuple([.. args.Positional]);
            if (PyOps.Equals(value, _lastChanged)) return false;
            _lastChanged = value;
            return true;
        }),
        _ => Undefined.ForMember(this, name),
    };

    /// <summary><c>loop(children)</c> inside a <c>for … recursive</c> loop renders the body for them, one level deeper.</summary>
    public object? Call(Interpreter interpreter, Arguments args) =>
        recurse is null
            ? throw new TemplateRuntimeException("Tried to call non recursive loop. Maybe you forgot the 'recursive' modifier.")
            : recurse(args.Get(0, "iterable"));
}
