namespace InferenceServer.Tokenization.Templates;

// Filters that order, group or reduce: sort, dictsort, unique, min, max, sum, groupby. Like jinja2 they compare
// strings case-insensitively unless case_sensitive=true.
internal static partial class Filters
{
    private static Func<object?, object?> SortKey(Arguments a, int attributeIndex, int caseIndex)
    {
        var getter = a.Get(attributeIndex, "attribute") is { } attr ? AttributeGetter(attr) : x => x;
        var caseSensitive = PyOps.Truthy(a.Get(caseIndex, "case_sensitive", false));
        return x =>
        {
            var key = getter(x);
            return !caseSensitive && key is string s ? PyText.Lower(s) : key;
        };
    }

    private static readonly Comparer<object?> PyComparer = Comparer<object?>.Create((x, y) => PyOps.Compare(x, y));

    private static object? Sort(Interpreter _, object? v, Arguments a)
    {
        var key = SortKey(a, 2, 1);
        var reverse = PyOps.Truthy(a.Get(0, "reverse", false));
        var items = PyOps.Iterate(v);
        return (reverse ? items.OrderByDescending(key, PyComparer) : items.OrderBy(key, PyComparer)).ToList();
    }

    private static object? DictSort(Interpreter _, object? v, Arguments a)
    {
        if (v is not IReadOnlyDictionary<string, object?> dict) throw new TemplateRuntimeException("You can only sort by either \"key\" or \"value\"");
        var caseSensitive = PyOps.Truthy(a.Get(0, "case_sensitive", false));
        var byValue = PyRepr.Str(a.Get(1, "by", "key")) switch
        {
            "key" => false,
            "value" => true,
            _ => throw new TemplateRuntimeException("You can only sort by either \"key\" or \"value\""),
        };
        var reverse = PyOps.Truthy(a.Get(2, "reverse", false));
        Func<KeyValuePair<string, object?>, object?> key = p =>
        {
            var k = byValue ? p.Value : p.Key;
            return !caseSensitive && k is string s ? PyText.Lower(s) : k;
        };
        var sorted = reverse ? dict.OrderByDescending(key, PyComparer) : dict.OrderBy(key, PyComparer);
        return sorted.Select(p => (object?)new PyTuple([p.Key, p.Value])).ToList();
    }

    private static object? Unique(Interpreter _, object? v, Arguments a)
    {
        var key = SortKey(a, 1, 0);
        var seen = new List<object?>();
        var result = new List<object?>();
        foreach (var item in PyOps.Iterate(v))
        {
            var k = key(item);
            if (seen.Any(s => PyOps.Equals(s, k))) continue;
            seen.Add(k);
            result.Add(item);
        }

        return result;
    }

    private static object? MinMax(object? v, Arguments a, bool max)
    {
        var key = SortKey(a, 1, 0);
        var items = PyOps.Iterate(v);
        if (items.Count == 0) return Undefined.WithHint($"No aggregated item, sequence was empty.");
        var best = items[0];
        foreach (var item in items.Skip(1))
        {
            var c = PyOps.Compare(key(item), key(best));
            if (max ? c > 0 : c < 0) best = item;
        }

        return best;
    }

    private static object? Sum(Interpreter _, object? v, Arguments a)
    {
        var getter = a.Get(0, "attribute") is { } attr ? AttributeGetter(attr) : x => x;
        var total = a.Get(1, "start", 0L);
        foreach (var item in PyOps.Iterate(v)) total = PyOps.Binary("+", total, getter(item));
        return total;
    }

    private static object? GroupBy(Interpreter _, object? v, Arguments a)
    {
        var getter = AttributeGetter(a.Get(0, "attribute"));
        var hasDefault = a.TryGet(1, "default", out var fallback);
        var caseSensitive = PyOps.Truthy(a.Get(2, "case_sensitive", false));
        object? Key(object? x)
        {
            var k = getter(x);
            if (k is Undefined && hasDefault) k = fallback;
            return !caseSensitive && k is string s ? PyText.Lower(s) : k;
        }

        var groups = new List<object?>();
        foreach (var group in PyOps.Iterate(v).OrderBy(Key, PyComparer).GroupBy(Key, new PyEquality()))
        {
            var items = group.ToList();
            var grouper = getter(items[0]);
            if (grouper is Undefined && hasDefault) grouper = fallback;
            groups.Add(new PyTuple([grouper, items]));
        }

        return groups;
    }

    private sealed class PyEquality : IEqualityComparer<object?>
    {
        public new bool Equals(object? x, object? y) => PyOps.Equals(x, y);

        public int GetHashCode(object? obj) => obj switch
        {
            string s => s.GetHashCode(StringComparison.Ordinal),
            long or double or bool => Convert.ToDouble(obj, System.Globalization.CultureInfo.InvariantCulture).GetHashCode(),
            _ => 0,
        };
    }
}
