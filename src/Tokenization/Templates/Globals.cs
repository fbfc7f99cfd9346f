namespace InferenceServer.Tokenization.Templates;

/// <summary>
/// Functions every template sees: jinja2's <c>range</c>, <c>dict</c>, <c>namespace</c>, and the two transformers adds,
/// <c>raise_exception(message)</c> and <c>strftime_now(format)</c>. Context variables of the same name shadow them.
/// </summary>
internal static class Globals
{
    /// <summary>jinja2's sandbox refuses ranges longer than this.</summary>
    private const long MaxRange = 100_000;

    private static readonly Dictionary<string, object?> All = new(StringComparer.Ordinal)
    {
        ["range"] = new BuiltinFunction("range", (_, a) => Range(a)),
        ["dict"] = new BuiltinFunction("dict", (_, a) =>
        {
            var d = a.Positional.Count > 0 && a.Positional[0] is IReadOnlyDictionary<string, object?> init
                ? new Dictionary<string, object?>(init, StringComparer.Ordinal)
                : new Dictionary<string, object?>(StringComparer.Ordinal);
            foreach (var (k, v) in a.Named) d[k] = v;
            return d;
        }),
        ["namespace"] = new BuiltinFunction("namespace", (_, a) =>
        {
            var ns = new Namespace();
            if (a.Positional.Count > 0 && a.Positional[0] is IReadOnlyDictionary<string, object?> init)
                foreach (var (k, v) in init) ns.Attributes[k] = v;
            foreach (var (k, v) in a.Named) ns.Attributes[k] = v;
            return ns;
        }),
        ["raise_exception"] = new BuiltinFunction("raise_exception", (_, a) =>
            throw new TemplateRuntimeException(PyRepr.Str(a.Get(0, "message")), TemplateErrorKind.Raised)),
        ["strftime_now"] = new BuiltinFunction("strftime_now", (it, a) =>
            Strftime.Format(it.Clock.GetLocalNow().DateTime, PyRepr.Str(a.Get(0, "format")))),
    };

    public static bool TryGet(string name, out object? value) => All.TryGetValue(name, out value);

    private static List<object?> Range(Arguments a)
    {
        long Arg(int i) => a.Positional[i] switch
        {
            long l => l,
            bool b => b ? 1 : 0,
            var v => throw new TemplateRuntimeException($"'{PyRepr.TypeName(v)}' object cannot be interpreted as an integer"),
        };

        var (start, stop, step) = a.Positional.Count switch
        {
            1 => (0L, Arg(0), 1L),
            2 => (Arg(0), Arg(1), 1L),
            3 => (Arg(0), Arg(1), Arg(2)),
            _ => throw new TemplateRuntimeException($"range expected at most 3 arguments, got {a.Positional.Count}"),
        };
        if (step == 0) throw new TemplateRuntimeException("range() arg 3 must not be zero");
        var count = step > 0 ? Math.Max(0, (stop - start + step - 1) / step) : Math.Max(0, (start - stop - step - 1) / -step);
        if (count > MaxRange)
            throw new TemplateRuntimeException($"Range too big. The sandbox blocks ranges larger than MAX_RANGE ({MaxRange}).");
        var list = new List<object?>((int)count);
        for (var i = 0L; i < count; i++) list.Add(start + i * step);
        return list;
    }
}
