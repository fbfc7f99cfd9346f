using System.Text;

namespace InferenceServer.Tokenization.Templates;

/// <summary>Python semantics of the operators on template values: truthiness, ==, ordering, arithmetic, in, len, iter.</summary>
internal static class PyOps
{
    public static bool Truthy(object? v) => v switch
    {
        null or Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        IReadOnlyDictionary<string, object?> d => d.Count > 0,
        IReadOnlyList<object?> l => l.Count > 0,
        _ => true,
    };

    /// <summary>bool is an int in Python: True + 1 == 2, True == 1.</summary>
    private static bool IsNumber(object? v) => v is long or double or bool;

    private static long AsLong(object? v) => v switch { long l => l, bool b => b ? 1 : 0, _ => 0 };

    private static double AsDouble(object? v) => v switch { double d => d, long l => l, bool b => b ? 1 : 0, _ => 0 };

    public static new bool Equals(object? a, object? b)
    {
        if (ReferenceEquals(a, b)) return true;
        switch (a)
        {
            case null: return b is null;
            case Undefined: return b is Undefined;
            case string s: return b is string t && s == t;
            case var _ when IsNumber(a):
                if (!IsNumber(b)) return false;
                return a is double || b is double ? AsDouble(a) == AsDouble(b) : AsLong(a) == AsLong(b);
            case IReadOnlyDictionary<string, object?> da:
                if (b is not IReadOnlyDictionary<string, object?> db || da.Count != db.Count) return false;
                foreach (var (k, v) in da)
                    if (!db.TryGetValue(k, out var w) || !Equals(v, w)) return false;
                return true;
            case IReadOnlyList<object?> la:
                if (b is not IReadOnlyList<object?> lb || la.Count != lb.Count || (a is PyTuple) != (b is PyTuple)) return false;
                for (var i = 0; i < la.Count; i++)
                    if (!Equals(la[i], lb[i])) return false;
                return true;
            default:
                return a.Equals(b);
        }
    }

    /// <summary>Python ordering for &lt; &gt; &lt;= &gt;= and sort: numbers, strings by code point, sequences lexicographically.</summary>
    public static int Compare(object? a, object? b, string op = "<")
    {
        if (a is Undefined ua) throw ua.Fail();
        if (b is Undefined ub) throw ub.Fail();
        if (IsNumber(a) && IsNumber(b))
            return a is double || b is double ? AsDouble(a).CompareTo(AsDouble(b)) : AsLong(a).CompareTo(AsLong(b));
        if (a is string sa && b is string sb) return PyText.Compare(sa, sb);
        if (a is IReadOnlyList<object?> la && b is IReadOnlyList<object?> lb && a is not IReadOnlyDictionary<string, object?> && (a is PyTuple) == (b is PyTuple))
        {
            for (var i = 0; i < Math.Min(la.Count, lb.Count); i++)
            {
                if (!Equals(la[i], lb[i])) return Compare(la[i], lb[i], op);
            }

            return la.Count.CompareTo(lb.Count);
        }

        throw new TemplateRuntimeException($"'{op}' not supported between instances of '{PyRepr.TypeName(a)}' and '{PyRepr.TypeName(b)}'");
    }

    public static bool Contains(object? container, object? item)
    {
        switch (container)
        {
            case Undefined: return false;
            case string s:
                if (item is Undefined u) throw u.Fail();
                if (item is not string sub) throw new TemplateRuntimeException($"'in <string>' requires string as left operand, not {PyRepr.TypeName(item)}");
                return s.Contains(sub, StringComparison.Ordinal);
            case IReadOnlyDictionary<string, object?> d: return item is string key && d.ContainsKey(key);
            case IReadOnlyList<object?> l:
                foreach (var x in l)
                    if (Equals(x, item)) return true;
                return false;
            case Namespace: throw new TemplateRuntimeException("argument of type 'Namespace' is not iterable");
            default: throw new TemplateRuntimeException($"argument of type '{PyRepr.TypeName(container)}' is not iterable");
        }
    }

    /// <summary>The items a for-loop or filter sees: characters of a string, keys of a dict, nothing for undefined.</summary>
    public static IReadOnlyList<object?> Iterate(object? v) => v switch
    {
        IReadOnlyList<object?> l => l,
        string s => PyText.Chars(s),
        IReadOnlyDictionary<string, object?> d => d.Keys.Cast<object?>().ToList(),
        Undefined => [],
        _ => throw new TemplateRuntimeException($"'{PyRepr.TypeName(v)}' object is not iterable"),
    };

    public static long Length(object? v) => v switch
    {
        string s => PyText.Length(s),
        IReadOnlyDictionary<string, object?> d => d.Count,
        IReadOnlyList<object?> l => l.Count,
        Undefined => 0,
        _ => throw new TemplateRuntimeException($"object of type '{PyRepr.TypeName(v)}' has no len()"),
    };

    public static object? Negate(object? v) => v switch
    {
        long l => (object)checked(-l),
        double d => -d,
        bool b => b ? -1L : 0L,
        Undefined u => throw u.Fail(),
        _ => throw new TemplateRuntimeException($"bad operand type for unary -: '{PyRepr.TypeName(v)}'"),
    };

    public static object? Positive(object? v) => v switch
    {
        long or double => v,
        bool b => b ? 1L : 0L,
        Undefined u => throw u.Fail(),
        _ => throw new TemplateRuntimeException($"bad operand type for unary +: '{PyRepr.TypeName(v)}'"),
    };

    public static object? Binary(string op, object? a, object? b)
    {
        if (op == "~") return PyRepr.Str(a) + PyRepr.Str(b);
        if (a is Undefined ua) throw ua.Fail();
        if (b is Undefined ub) throw ub.Fail();
        try
        {
            return op switch
            {
                "+" => Add(a, b),
                "-" => Arith(op, a, b, (x, y) => checked(x - y), (x, y) => x - y),
                "*" => Multiply(a, b),
                "/" => IsNumber(a) && IsNumber(b) ? Divide(AsDouble(a), AsDouble(b)) : throw Unsupported(op, a, b),
                "//" => Arith(op, a, b, FloorDiv, (x, y) => Math.Floor(Divide(x, y))),
                "%" => a is string fmt ? PyFormat.Percent(fmt, b) : Arith(op, a, b, Mod, FloatMod),
                "**" => Power(a, b),
                _ => throw new TemplateRuntimeException($"unknown operator {op}"),
            };
        }
        catch (OverflowException)
        {
            throw new TemplateRuntimeException("integer overflow");
        }
    }

    private static object? Add(object? a, object? b)
    {
        if (IsNumber(a) && IsNumber(b)) return Arith("+", a, b, (x, y) => checked(x + y), (x, y) => x + y);
        if (a is string sa)
            return b is string sb ? sa + sb : throw new TemplateRuntimeException($"can only concatenate str (not \"{PyRepr.TypeName(b)}\") to str");
        if (a is PyTuple ta)
            return b is PyTuple tb ? new PyTuple([.. ta.Items, .. tb.Items]) : throw new TemplateRuntimeException($"can only concatenate tuple (not \"{PyRepr.TypeName(b)}\") to tuple");
        if (a is IReadOnlyList<object?> la && a is not IReadOnlyDictionary<string, object?>)
            return b is IReadOnlyList<object?> lb and not PyTuple and not IReadOnlyDictionary<string, object?>
                ? new List<object?>(la.Concat(lb))
                : throw new TemplateRuntimeException($"can only concatenate list (not \"{PyRepr.TypeName(b)}\") to list");
        throw Unsupported("+", a, b);
    }

    private static object? Multiply(object? a, object? b)
    {
        if (IsNumber(a) && IsNumber(b)) return Arith("*", a, b, (x, y) => checked(x * y), (x, y) => x * y);
        if (a is string s && b is long or bool) return Repeat(s, AsLong(b));
        if (b is string t && a is long or bool) return Repeat(t, AsLong(a));
        if (a is IReadOnlyList<object?> l && b is long or bool && a is not IReadOnlyDictionary<string, object?>)
        {
            var n = AsLong(b);
            if (n > 0 && l.Count > 0 && n > MaxRepeatedItems / l.Count) throw new TemplateRuntimeException("repeated list is too long");
            var list = new List<object?>();
            for (var i = 0; i < n; i++) list.AddRange(l);
            return a is PyTuple ? new PyTuple([.. list]) : list;
        }

        throw Unsupported("*", a, b);
    }

    // Repetition caps: Python would try to allocate whatever is asked (`'ab' * 2**62`), which would hang or exhaust the
    // server's memory; a template never needs more than a prompt's worth.
    private const long MaxRepeatedChars = 100_000_000, MaxRepeatedItems = 10_000_000;

    private static string Repeat(string s, long n)
    {
        if (n > 0 && s.Length > 0 && n > MaxRepeatedChars / s.Length)
            throw new TemplateRuntimeException("repeated string is too long");
        var sb = new StringBuilder();
        for (var i = 0; i < n; i++) sb.Append(s);
        return sb.ToString();
    }

    private static object Arith(string op, object? a, object? b, Func<long, long, long> onLong, Func<double, double, double> onDouble)
    {
        if (!IsNumber(a) || !IsNumber(b)) throw Unsupported(op, a, b);
        return a is double || b is double ? (object)onDouble(AsDouble(a), AsDouble(b)) : onLong(AsLong(a), AsLong(b));
    }

    private static double Divide(double x, double y) =>
        y == 0 ? throw new TemplateRuntimeException("division by zero") : x / y;

    private static long FloorDiv(long x, long y)
    {
        if (y == 0) throw new TemplateRuntimeException("integer division or modulo by zero");
        var q = x / y;
        return (x % y != 0) && ((x < 0) != (y < 0)) ? q - 1 : q;
    }

    private static long Mod(long x, long y)
    {
        if (y == 0) throw new TemplateRuntimeException("integer modulo by zero");
        var m = x % y;
        return m != 0 && ((m < 0) != (y < 0)) ? m + y : m;
    }

    private static double FloatMod(double x, double y)
    {
        if (y == 0) throw new TemplateRuntimeException("float modulo");
        var m = x % y;
        return m != 0 && ((m < 0) != (y < 0)) ? m + y : m;
    }

    private static object Power(object? a, object? b)
    {
        if (!IsNumber(a) || !IsNumber(b)) throw Unsupported("** or pow()", a, b);
        if (a is double || b is double || AsLong(b) < 0) return Math.Pow(AsDouble(a), AsDouble(b));

        // Square-and-multiply: O(log e) steps, so `true ** 9223372036854775807` is 1 at once. x is squared only while
        // bits of e remain, and then the result holds at least x², so an overflow there is the result's own.
        long result = 1, x = AsLong(a);
        for (var e = AsLong(b); e > 0; e >>= 1)
        {
            if ((e & 1) != 0) result = checked(result * x);
            if (e > 1) x = checked(x * x);
        }
        return result;
    }

    private static TemplateRuntimeException Unsupported(string op, object? a, object? b) =>
        new($"unsupported operand type(s) for {op}: '{PyRepr.TypeName(a)}' and '{PyRepr.TypeName(b)}'");
}
