namespace InferenceServer.Tokenization.Templates;

/// <summary>The <c>is</c> tests of jinja2 (with Python's notion of types: bool counts as a number, undefined is iterable).</summary>
internal static class Tests
{
    private static readonly Dictionary<string, TestFn> All = new(StringComparer.Ordinal)
    {
        ["defined"] = (_, v, _) => v is not Undefined,
        ["undefined"] = (_, v, _) => v is Undefined,
        ["none"] = (_, v, _) => v is null,
        ["boolean"] = (_, v, _) => v is bool,
        ["true"] = (_, v, _) => v is true,
        ["false"] = (_, v, _) => v is false,
        ["integer"] = (_, v, _) => v is long,
        ["float"] = (_, v, _) => v is double,
        ["number"] = (_, v, _) => v is long or double or bool,
        ["string"] = (_, v, _) => v is string,
        ["mapping"] = (_, v, _) => v is IReadOnlyDictionary<string, object?>,
        ["iterable"] = (_, v, _) => v is string or IReadOnlyList<object?> or IReadOnlyDictionary<string, object?> or Undefined,
        ["sequence"] = (_, v, _) => v is string or IReadOnlyList<object?> or IReadOnlyDictionary<string, object?> or Undefined,
        ["callable"] = (_, v, _) => v is ICallable,
        ["sameas"] = (_, v, a) => SameAs(v, a.Get(0, "other")),
        ["escaped"] = (_, _, _) => false,
        ["lower"] = (_, v, _) => PyRepr.Str(v) is var s && s.Any(char.IsLetter) && !s.Any(char.IsUpper),
        ["upper"] = (_, v, _) => PyRepr.Str(v) is var s && s.Any(char.IsLetter) && !s.Any(char.IsLower),
        ["odd"] = (_, v, _) => Integer(v) % 2 != 0,
        ["even"] = (_, v, _) => Integer(v) % 2 == 0,
        ["divisibleby"] = (_, v, a) => PyOps.Binary("%", v, a.Get(0, "num")) is var m && PyOps.Equals(m, 0L),
        ["eq"] = Eq,
        ["equalto"] = Eq,
        ["=="] = Eq,
        ["ne"] = (_, v, a) => !PyOps.Equals(v, a.Get(0, "other")),
        ["!="] = (_, v, a) => !PyOps.Equals(v, a.Get(0, "other")),
        ["lt"] = (_, v, a) => PyOps.Compare(v, a.Get(0, "other"), "<") < 0,
        ["lessthan"] = (_, v, a) => PyOps.Compare(v, a.Get(0, "other"), "<") < 0,
        ["<"] = (_, v, a) => PyOps.Compare(v, a.Get(0, "other"), "<") < 0,
        ["le"] = (_, v, a) => PyOps.Compare(v, a.Get(0, "other"), "<=") <= 0,
        ["<="] = (_, v, a) => PyOps.Compare(v, a.Get(0, "other"), "<=") <= 0,
        ["gt"] = (_, v, a) => PyOps.Compare(v, a.Get(0, "other"), ">") > 0,
        ["greaterthan"] = (_, v, a) => PyOps.Compare(v, a.Get(0, "other"), ">") > 0,
        [">"] = (_, v, a) => PyOps.Compare(v, a.Get(0, "other"), ">") > 0,
        ["ge"] = (_, v, a) => PyOps.Compare(v, a.Get(0, "other"), ">=") >= 0,
        [">="] = (_, v, a) => PyOps.Compare(v, a.Get(0, "other"), ">=") >= 0,
        ["in"] = (_, v, a) => PyOps.Contains(a.Get(0, "seq"), v),
        ["filter"] = (_, v, _) => v is string name && Filters.Find(name) is not null,
        ["test"] = (_, v, _) => v is string name && Find(name) is not null,
    };

    public static TestFn? Find(string name) => All.GetValueOrDefault(name);

    /// <summary>Runs the test named <paramref name="name"/> (used by select/reject/selectattr/rejectattr).</summary>
    public static bool Run(Interpreter interpreter, string name, object? value, Arguments args) =>
        (Find(name) ?? throw new TemplateRuntimeException($"No test named {PyRepr.Repr(name)}."))(interpreter, value, args);

    private static bool Eq(Interpreter _, object? v, Arguments a) => PyOps.Equals(v, a.Get(0, "other"));

    private static long Integer(object? v) => v switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        Undefined u => throw u.Fail(),
        _ => throw new TemplateRuntimeException($"unsupported operand type(s) for %: '{PyRepr.TypeName(v)}' and 'int'"),
    };

    /// <summary>Python <c>is</c>: identity; None/True/False and small values behave as singletons.</summary>
    private static bool SameAs(object? a, object? b) => a switch
    {
        null => b is null,
        bool x => b is bool y && x == y,
        long x => b is long y && x == y,
        string x => b is string y && x == y,
        _ => ReferenceEquals(a, b),
    };
}
