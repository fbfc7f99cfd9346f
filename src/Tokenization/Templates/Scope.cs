namespace InferenceServer.Tokenization.Templates;

/// <summary>
/// Variables visible at one point of a render. jinja2 scoping: each loop iteration, macro call and
/// <c>with</c> block gets a child scope (so <c>set</c> inside a loop does not leak out — hence <c>namespace()</c>),
/// while <c>if</c> does not. The root reads the caller's context, then the globals.
/// </summary>
internal sealed class Scope
{
    private readonly Scope? _parent;
    private readonly IReadOnlyDictionary<string, object?>? _context;
    private Dictionary<string, object?>? _vars;

    private Scope(Scope? parent, IReadOnlyDictionary<string, object?>? context)
    {
        _parent = parent;
        _context = context;
    }

    public static Scope Root(IReadOnlyDictionary<string, object?> context) => new(null, context);

    public Scope Child() => new(this, null);

    public bool TryGet(string name, out object? value)
    {
        for (var s = this; s is not null; s = s._parent)
        {
            if (s._vars is not null && s._vars.TryGetValue(name, out value)) return true;
            if (s._context is not null && s._context.TryGetValue(name, out value)) return true;
        }

        return Globals.TryGet(name, out value);
    }

    public object? Get(string name) => TryGet(name, out var value) ? value : Undefined.ForName(name);

    public void Set(string name, object? value) => (_vars ??= new(StringComparer.Ordinal))[name] = value;
}
