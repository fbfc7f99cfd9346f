using System.Text;

namespace InferenceServer.Tokenization.Templates;

/// <summary>
/// Walks the parsed template: statements here, expressions in Interpreter.Expressions.cs. One instance per render
/// (it holds the clock and the recursion depth); the parsed nodes are immutable and shared across renders.
/// </summary>
internal sealed partial class Interpreter(TimeProvider clock)
{
    private const int MaxDepth = 400;

    private int _depth;

    private static TemplateRuntimeException TooDeep() =>
        new($"maximum recursion depth exceeded (macro calls and recursive loops nested more than {MaxDepth} deep)");

    public TimeProvider Clock { get; } = clock;

    private enum Flow
    {
        Normal,
        Break,
        Continue,
    }

    public string Render(IReadOnlyList<Node> body, IReadOnlyDictionary<string, object?> context)
    {
        var output = new StringBuilder();
        try
        {
            Execute(body, Scope.Root(context), output);
        }
        catch (TemplateRuntimeException)
        {
            throw;
        }
        catch (InvalidOperationException ex) when (ex.InnerException is TemplateRuntimeException inner)
        {
            // LINQ's sort wraps exceptions thrown by a comparer (e.g. comparing str with int).
            throw new TemplateRuntimeException(inner.Message, inner.Kind, inner.Line);
        }
        catch (Exception ex) when (ex is InvalidCastException or IndexOutOfRangeException or ArgumentException or FormatException or OverflowException or KeyNotFoundException)
        {
            throw new TemplateRuntimeException(ex.Message);
        }

        return output.ToString();
    }

    /// <summary>Runs a macro or caller body; a recursion guard keeps a self-calling macro from overflowing the stack.</summary>
    public void ExecuteNested(IReadOnlyList<Node> body, Scope scope, StringBuilder output)
    {
        if (++_depth > MaxDepth || !NestingLimits.StackLeft()) throw TooDeep();
        try
        {
            Execute(body, scope, output);
        }
        finally
        {
            _depth--;
        }
    }

    private Flow Execute(IReadOnlyList<Node> nodes, Scope scope, StringBuilder output)
    {
        foreach (var node in nodes)
        {
            Flow flow;
            try
            {
                flow = ExecuteNode(node, scope, output);
            }
            catch (TemplateRuntimeException ex) when (ex.Line is null)
            {
                ex.Line = node.Line;
                throw;
            }

            if (flow != Flow.Normal) return flow;
        }

        return Flow.Normal;
    }

    private Flow ExecuteNode(Node node, Scope scope, StringBuilder output)
    {
        switch (node)
        {
            case TextNode text:
                output.Append(text.Text);
                return Flow.Normal;
            case OutputNode print:
                output.Append(PyRepr.Str(Eval(print.Value, scope)));
                return Flow.Normal;
            case IfNode ifNode:
                foreach (var (condition, body) in ifNode.Branches)
                    if (PyOps.Truthy(Eval(condition, scope))) return Execute(body, scope, output);
                return ifNode.Else is null ? Flow.Normal : Execute(ifNode.Else, scope, output);
            case ForNode forNode:
                ExecuteFor(forNode, Eval(forNode.Iterable, scope), scope, output, 0);
                return Flow.Normal;
            case SetNode set:
                Assign(set.Target, Eval(set.Value, scope), scope);
                return Flow.Normal;
            case SetBlockNode setBlock:
                Assign(setBlock.Target, ApplyFilters(setBlock.Filters, Capture(setBlock.Body, scope.Child()), scope), scope);
                return Flow.Normal;
            case MacroNode macro:
                scope.Set(macro.Name, new Macro(macro.Name, macro.Parameters, macro.Body, scope));
                return Flow.Normal;
            case CallBlockNode callBlock:
                var caller = new Macro("caller", callBlock.Parameters, callBlock.Body, scope);
                var target = Eval(callBlock.Call.Target, scope);
                var args = EvaluateArgs(callBlock.Call.Args, scope, extraNamed: new("caller", caller));
                output.Append(PyRepr.Str(Invoke(target, args)));
                return Flow.Normal;
            case FilterBlockNode filterBlock:
                output.Append(PyRepr.Str(ApplyFilters(filterBlock.Filters, Capture(filterBlock.Body, scope), scope)));
                return Flow.Normal;
            case WithNode with:
                var inner = scope.Child();
                foreach (var (t, value) in with.Assignments) Assign(t, Eval(value, scope), inner);
                return Execute(with.Body, inner, output);
            case ScopeNode block:
                return Execute(block.Body, scope, output);
            case BreakNode:
                return Flow.Break;
            case ContinueNode:
                return Flow.Continue;
            default:
                throw new TemplateRuntimeException($"unsupported node {node.GetType().Name}");
        }
    }

    private string Capture(IReadOnlyList<Node> body, Scope scope)
    {
        var sb = new StringBuilder();
        Execute(body, scope, sb);
        return sb.ToString();
    }

    private object? ApplyFilters(IReadOnlyList<FilterExpr> filters, object? value, Scope scope)
    {
        foreach (var f in filters) value = f.Filter(this, value, EvaluateArgs(f.Args, scope));
        return value;
    }

    private void ExecuteFor(ForNode node, object? iterable, Scope scope, StringBuilder output, int depth)
    {
        var items = PyOps.Iterate(iterable);
        if (node.Filter is not null)
        {
            // "for x in xs if cond": filtered first, so loop.index/length/last count only the kept items.
            var kept = new List<object?>();
            foreach (var item in items)
            {
                var probe = scope.Child();
                Assign(node.Target, item, probe);
                if (PyOps.Truthy(Eval(node.Filter, probe))) kept.Add(item);
            }

            items = kept;
        }

        Func<object?, string>? recurse = node.Recursive
            ? children =>
            {
                if (++_depth > MaxDepth || !NestingLimits.StackLeft()) throw TooDeep();
                try
                {
                    var sb = new StringBuilder();
                    ExecuteFor(node, children, scope, sb, depth + 1);
                    return sb.ToString();
                }
                finally
                {
                    _depth--;
                }
            }
            : null;
        var loop = new LoopContext(items, depth, recurse);
        for (var i = 0; i < items.Count; i++)
        {
            loop.Index0 = i;
            var iteration = scope.Child();
            Assign(node.Target, items[i], iteration);
            iteration.Set("loop", loop);
            if (Execute(node.Body, iteration, output) == Flow.Break) break;
        }

        if (items.Count == 0 && node.Else is not null) Execute(node.Else, scope, output);
    }

    private void Assign(Target target, object? value, Scope scope)
    {
        switch (target)
        {
            case NameTarget name:
                scope.Set(name.Name, value);
                break;
            case AttrTarget attr:
                if (scope.Get(attr.Object) is not Namespace ns)
                    throw new TemplateRuntimeException("cannot assign attribute on non-namespace object");
                ns.Attributes[attr.Attribute] = value;
                break;
            case TupleTarget tuple:
                var items = PyOps.Iterate(value);
                if (items.Count != tuple.Items.Count)
                {
                    throw new TemplateRuntimeException(items.Count > tuple.Items.Count
                        ? $"too many values to unpack (expected {tuple.Items.Count})"
                        : $"not enough values to unpack (expected {tuple.Items.Count}, got {items.Count})");
                }

                for (var i = 0; i < items.Count; i++) Assign(tuple.Items[i], items[i], scope);
                break;
        }
    }
}
