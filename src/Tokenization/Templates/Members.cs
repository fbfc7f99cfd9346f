namespace InferenceServer.Tokenization.Templates;

/// <summary>
/// <c>obj.name</c> and <c>obj[key]</c> as jinja2's sandbox resolves them: attribute access tries Python attributes
/// (methods such as <c>dict.items</c>, <c>str.strip</c>) before items, subscription tries items before attributes,
/// and a miss is <see cref="Undefined"/>. Methods that would modify a list or dict are hidden, as in
/// transformers' <c>ImmutableSandboxedEnvironment</c>.
/// </summary>
internal static class Members
{
    private static readonly HashSet<string> UnsafeListMethods = ["append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse"];
    private static readonly HashSet<string> UnsafeDictMethods = ["clear", "pop", "popitem", "setdefault", "update"];

    public static object? GetAttr(object? obj, string name)
    {
        if (obj is Undefined u) throw u.Fail();
        return TryAttribute(obj, name, out var value) || TryItem(obj, name, out value) ? value : Undefined.ForMember(obj, name);
    }

    public static object? GetItem(object? obj, object? key)
    {
        if (obj is Undefined u) throw u.Fail();
        if (key is Undefined k) throw k.Fail();
        return TryItem(obj, key, out var value) || (key is string name && TryAttribute(obj, name, out value))
            ? value
            : Undefined.ForMember(obj, key);
    }

    private static bool TryItem(object? obj, object? key, out object? value)
    {
        value = Item(obj, key, out var found);
        return found;
    }

    private static bool TryAttribute(object? obj, string name, out object? value)
    {
        value = Attribute(obj, name, out var found);
        return found;
    }

    private static object? Item(object? obj, object? key, out bool found)
    {
        found = true;
        switch (obj)
        {
            case IReadOnlyDictionary<string, object?> dict:
                if (key is string s && dict.TryGetValue(s, out var value)) return value;
                break;
            case IReadOnlyList<object?> list:
                if (key is PySlice slice)
                {
                    var picked = slice.Indices(list.Count).Select(i => list[i]).ToList();
                    return obj is PyTuple ? new PyTuple([.. picked]) : picked;
                }

                if (ToIndex(key) is not { } index) break;
                if (index < 0) index += list.Count;
                if (index >= 0 && index < list.Count) return list[(int)index];
                break;
            case string str:
                if (key is PySlice strSlice) return PyText.Slice(str, strSlice);
                if (ToIndex(key) is not { } at) break;
                var length = PyText.Length(str);
                if (at < 0) at += length;
                if (at >= 0 && at < length) return PyText.Index(str, at);
                break;
        }

        found = false;
        return null;
    }

    private static long? ToIndex(object? key) => key switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        _ => null,
    };

    /// <summary>A Python attribute (bound method or special object field), or null when there is none.</summary>
    private static object? Attribute(object? obj, string name, out bool found)
    {
        if (obj is LoopContext loop)
        {
            // previtem/nextitem are undefined at the ends, with their own message; other names are not attributes.
            var attr = loop.GetAttribute(name);
            found = attr is not Undefined || name is "previtem" or "nextitem";
            return attr;
        }

        var result = Attribute(obj, name);
        found = result is not null || (obj is Namespace ns && ns.Attributes.ContainsKey(name));
        return result;
    }

    /// <summary>The attribute, or null when there is none (a namespace's None attribute is told apart by the caller).</summary>
    private static object? Attribute(object? obj, string name)
    {
        switch (obj)
        {
            case string s:
                return StringMethods.Bind(s, name);
            case Namespace ns:
                return ns.Attributes.GetValueOrDefault(name);
            case IReadOnlyDictionary<string, object?> dict:
                if (UnsafeDictMethods.Contains(name)) return Undefined.Unsafe(obj, name);
                return name switch
                {
                    "items" => Method(name, _ => dict.Select(p => (object?)new PyTuple([p.Key, p.Value])).ToList()),
                    "keys" => Method(name, _ => dict.Keys.Cast<object?>().ToList()),
                    "values" => Method(name, _ => dict.Values.ToList()),
                    "get" => Method(name, a => a.Get(0, "key") is string k && dict.TryGetValue(k, out var v) ? v : a.Get(1, "default")),
                    "copy" => Method(name, _ => new Dictionary<string, object?>(dict, StringComparer.Ordinal)),
                    _ => null,
                };
            case IReadOnlyList<object?> list:
                if (obj is not PyTuple && UnsafeListMethods.Contains(name)) return Undefined.Unsafe(obj, name);
                return name switch
                {
                    "index" => Method(name, a =>
                    {
                        var x = a.Get(0, "value");
                        for (var i = 0; i < list.Count; i++)
                            if (PyOps.Equals(list[i], x)) return (long)i;
                        throw new TemplateRuntimeException($"{PyRepr.Repr(x)} is not in list");
                    }),
                    "count" => Method(name, a => (long)list.Count(x => PyOps.Equals(x, a.Get(0, "value")))),
                    "copy" when obj is not PyTuple => Method(name, _ => list.ToList()),
                    _ => null,
                };
            default:
                return null;
        }
    }

    private static BuiltinFunction Method(string name, Func<Arguments, object?> body) => new(name, (_, args) => body(args));
}
