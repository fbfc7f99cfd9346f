using System.Collections;

namespace InferenceServer.Tokenization.Templates;

/// <summary>A Python tuple: a read-only sequence that prints as <c>(a, b)</c> and never equals a list.</summary>
internal sealed class PyTuple(object?[] items) : IReadOnlyList<object?>
{
    public static readonly PyTuple Empty = new([]);

    public object?[] Items { get; } = items;

    public int Count => Items.Length;

    public object? this[int index] => Items[index];

    public IEnumerator<object?> GetEnumerator() => ((IEnumerable<object?>)Items).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => Items.GetEnumerator();
}

/// <summary>The value of <c>a:b:c</c> inside brackets; null parts are omitted bounds.</summary>
internal sealed record PySlice(long? Start, long? Stop, long? Step)
{
    /// <summary>The indices a slice selects from a sequence of <paramref name="length"/> (Python's slice.indices).</summary>
    public IEnumerable<int> Indices(int length)
    {
        var step = Step ?? 1;
        if (step == 0) throw new TemplateRuntimeException("slice step cannot be zero");
        long Clamp(long? v, long dflt, long lo, long hi)
        {
            if (v is not { } x) return dflt;
            if (x < 0) x += length;
            return Math.Clamp(x, lo, hi);
        }

        if (step > 0)
        {
            var start = Clamp(Start, 0, 0, length);
            var stop = Clamp(Stop, length, 0, length);
            for (var i = start; i < stop; i += step) yield return (int)i;
        }
        else
        {
            var start = Clamp(Start, length - 1, -1, length - 1);
            var stop = Clamp(Stop, -1, -1, length - 1);
            for (var i = start; i > stop; i += step) yield return (int)i;
        }
    }
}

/// <summary>
/// jinja2's <c>namespace()</c>: the one mutable object templates get, so a value set inside a loop survives it
/// (<c>{% set ns.found = true %}</c>). Not a mapping; attributes and items read the same store.
/// </summary>
internal sealed class Namespace
{
    public Dictionary<string, object?> Attributes { get; } = new(StringComparer.Ordinal);
}
