namespace InferenceServer.Tokenization.Templates;

internal sealed partial class Interpreter
{
    public object? Eval(Expr expr, Scope scope)
    {
        switch (expr)
        {
            case ConstExpr c:
                return c.Value;
            case NameExpr n:
                return scope.Get(n.Name);
            case AttrExpr a:
                return Members.GetAttr(Eval(a.Target, scope), a.Name);
            case ItemExpr i:
                return Members.GetItem(Eval(i.Target, scope), Eval(i.Key, scope));
            case FilterExpr f:
                return f.Filter(this, f.Value is null ? Undefined.WithHint("filter without value") : Eval(f.Value, scope), EvaluateArgs(f.Args, scope));
            case TestExpr t:
                return t.Test(this, Eval(t.Value, scope), EvaluateArgs(t.Args, scope)) != t.Negated;
            case CallExpr call:
                return Invoke(Eval(call.Target, scope), EvaluateArgs(call.Args, scope));
            case CompareExpr cmp:
                return Compare(cmp, scope);
            case BinaryExpr b:
                return PyOps.Binary(b.Op, Eval(b.Left, scope), Eval(b.Right, scope));
            case AndExpr and:
                var left = Eval(and.Left, scope);
                return PyOps.Truthy(left) ? Eval(and.Right, scope) : left;
            case OrExpr or:
                var first = Eval(or.Left, scope);
                return PyOps.Truthy(first) ? first : Eval(or.Right, scope);
            case NotExpr not:
                return !PyOps.Truthy(Eval(not.Operand, scope));
            case UnaryExpr u:
                var operand = Eval(u.Operand, scope);
                return u.Op == "-" ? PyOps.Negate(operand) : PyOps.Positive(operand);
            case CondExpr cond:
                if (PyOps.Truthy(Eval(cond.Condition, scope))) return Eval(cond.Then, scope);
                return cond.Else is null ? Undefined.WithHint("the inline if-expression evaluated to false and no else section was defined.") : Eval(cond.Else, scope);
            case ListExpr list:
                var items = new List<object?>(list.Items.Count);
                foreach (var item in list.Items) items.Add(Eval(item, scope));
                return items;
            case TupleExpr tuple:
                var values = new object?[tuple.Items.Count];
                for (var k = 0; k < values.Length; k++) values[k] = Eval(tuple.Items[k], scope);
                return new PyTuple(values);
            case DictExpr dict:
                var d = new Dictionary<string, object?>(StringComparer.Ordinal);
                foreach (var (key, value) in dict.Pairs) d[DictKey(Eval(key, scope))] = Eval(value, scope);
                return d;
            case SliceExpr s:
                return new PySlice(SliceBound(s.Start, scope), SliceBound(s.Stop, scope), SliceBound(s.Step, scope));
            default:
                throw new TemplateRuntimeException($"unsupported expression {expr.GetType().Name}");
        }
    }

    /// <summary>The value model keys dicts by string, so a literal like <c>{1: 'a'}</c> gets the key "1".</summary>
    private static string DictKey(object? key) => key switch
    {
        string s => s,
        Undefined u => throw u.Fail(),
        _ => PyRepr.Str(key),
    };

    private long? SliceBound(Expr? e, Scope scope) => e is null
        ? null
        : Eval(e, scope) switch
        {
            null => null,
            long l => l,
            bool b => b ? 1 : 0,
            _ => throw new TemplateRuntimeException("slice indices must be integers or None or have an __index__ method"),
        };

    private bool Compare(CompareExpr cmp, Scope scope)
    {
        var left = Eval(cmp.First, scope);
        foreach (var (op, rightExpr) in cmp.Rest)
        {
            var right = Eval(rightExpr, scope);
            var ok = op switch
            {
                "==" => PyOps.Equals(left, right),
                "!=" => !PyOps.Equals(left, right),
                "<" => PyOps.Compare(left, right, op) < 0,
                "<=" => PyOps.Compare(left, right, op) <= 0,
                ">" => PyOps.Compare(left, right, op) > 0,
                ">=" => PyOps.Compare(left, right, op) >= 0,
                "in" => PyOps.Contains(right, left),
                "not in" => !PyOps.Contains(right, left),
                _ => throw new TemplateRuntimeException($"unknown comparison {op}"),
            };
            if (!ok) return false;
            left = right;
        }

        return true;
    }

    public Arguments EvaluateArgs(ArgList args, Scope scope, KeyValuePair<string, object?>? extraNamed = null)
    {
        if (ReferenceEquals(args, ArgList.Empty) && extraNamed is null) return Arguments.None;
        var positional = new List<object?>(args.Positional.Count);
        foreach (var p in args.Positional) positional.Add(Eval(p, scope));
        if (args.Star is not null) positional.AddRange(PyOps.Iterate(Eval(args.Star, scope)));
        var named = new List<KeyValuePair<string, object?>>(args.Named.Count);
        foreach (var (name, value) in args.Named) named.Add(new(name, Eval(value, scope)));
        if (args.DoubleStar is not null)
        {
            if (Eval(args.DoubleStar, scope) is not IReadOnlyDictionary<string, object?> kw)
                throw new TemplateRuntimeException("argument after ** must be a mapping");
            named.AddRange(kw);
        }

        if (extraNamed is { } extra) named.Add(extra);
        return new Arguments(positional, named);
    }

    public object? Invoke(object? target, Arguments args) => target switch
    {
        ICallable callable => callable.Call(this, args),
        Undefined u => throw u.Fail(),
        _ => throw new TemplateRuntimeException($"'{PyRepr.TypeName(target)}' object is not callable"),
    };
}
