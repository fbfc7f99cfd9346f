namespace InferenceServer.Tokenization.Templates;

// Expression grammar, lowest precedence first (as jinja2): conditional, or, and, not, comparisons (incl. in / not in),
// + -, ~, * / // %, **, unary - +, then primaries with postfix . [] () and filters/tests (| and is).
internal sealed partial class Parser
{
    private static readonly HashSet<string> CompareOps = ["==", "!=", "<", ">", "<=", ">="];

    /// <summary>Comma-separated expressions; a tuple when there is a comma, else the single expression.</summary>
    private Expr ParseTuple(bool withCondExpr, params string[] extraEndNames)
    {
        var line = Current.Line;
        var items = new List<Expr>();
        var isTuple = false;
        while (true)
        {
            if (items.Count > 0) ExpectOperator(",");
            if (IsTupleEnd(extraEndNames)) break;
            items.Add(ParseExpression(withCondExpr));
            if (Current.IsOperator(",")) isTuple = true;
            else break;
        }

        if (isTuple) return new TupleExpr(items, line);
        if (items.Count == 1) return items[0];
        throw Error($"Expected an expression, got '{Current}'", Current);
    }

    private bool IsTupleEnd(string[] extraEndNames) =>
        Current.Kind is TokenKind.VariableEnd or TokenKind.BlockEnd or TokenKind.End
        || Current.IsOperator(")")
        || (Current.Kind == TokenKind.Name && extraEndNames.Contains(Current.Text));

    private Expr ParseExpression(bool withCondExpr = true) => withCondExpr ? ParseCondExpr() : ParseOr();

    private Expr ParseCondExpr()
    {
        var expr = ParseOr();
        while (Current.IsName("if"))
        {
            var line = Next().Line;
            var condition = ParseOr();
            var otherwise = SkipName("else") ? ParseCondExpr() : null;
            expr = new CondExpr(condition, expr, otherwise, line);
        }

        return expr;
    }

    private Expr ParseOr()
    {
        var left = ParseAnd();
        while (Current.IsName("or"))
        {
            var line = Next().Line;
            left = new OrExpr(left, ParseAnd(), line);
        }

        return left;
    }

    private Expr ParseAnd()
    {
        var left = ParseNot();
        while (Current.IsName("and"))
        {
            var line = Next().Line;
            left = new AndExpr(left, ParseNot(), line);
        }

        return left;
    }

    private Expr ParseNot()
    {
        if (!Current.IsName("not")) return ParseCompare();
        var line = Next().Line;
        return new NotExpr(ParseNot(), line);
    }

    private Expr ParseCompare()
    {
        var line = Current.Line;
        var first = ParseMath1();
        List<(string, Expr)>? rest = null;
        while (true)
        {
            string op;
            if (Current.Kind == TokenKind.Operator && CompareOps.Contains(Current.Text)) op = Next().Text;
            else if (SkipName("in")) op = "in";
            else if (Current.IsName("not") && Peek().IsName("in"))
            {
                Next();
                Next();
                op = "not in";
            }
            else break;

            (rest ??= []).Add((op, ParseMath1()));
        }

        return rest is null ? first : new CompareExpr(first, rest, line);
    }

    private Expr ParseMath1()
    {
        var left = ParseConcat();
        while (Current.IsOperator("+") || Current.IsOperator("-"))
        {
            var op = Next();
            left = new BinaryExpr(op.Text, left, ParseConcat(), op.Line);
        }

        return left;
    }

    private Expr ParseConcat()
    {
        var left = ParseMath2();
        while (Current.IsOperator("~"))
        {
            var op = Next();
            left = new BinaryExpr("~", left, ParseMath2(), op.Line);
        }

        return left;
    }

    private Expr ParseMath2()
    {
        var left = ParsePow();
        while (Current.Kind == TokenKind.Operator && Current.Text is "*" or "/" or "//" or "%")
        {
            var op = Next();
            left = new BinaryExpr(op.Text, left, ParsePow(), op.Line);
        }

        return left;
    }

    private Expr ParsePow()
    {
        var left = ParseUnary();
        while (Current.IsOperator("**"))
        {
            var op = Next();
            left = new BinaryExpr("**", left, ParseUnary(), op.Line);
        }

        return left;
    }

    private Expr ParseUnary(bool withFilter = true)
    {
        // Every nested expression ((…), […], {…}, -x) comes back through here, so this bounds the recursion.
        EnterNesting(Current);
        try
        {
            return ParseUnaryNested(withFilter);
        }
        finally
        {
            _nesting--;
        }
    }

    private Expr ParseUnaryNested(bool withFilter)
    {
        Expr node;
        if (Current.IsOperator("-") || Current.IsOperator("+"))
        {
            var op = Next();
            node = new UnaryExpr(op.Text, ParseUnary(withFilter: false), op.Line);
        }
        else
        {
            node = ParsePrimary();
        }

        node = ParsePostfix(node);
        return withFilter ? ParseFilterExpr(node) : node;
    }

    private Expr ParsePrimary()
    {
        var token = Current;
        switch (token.Kind)
        {
            case TokenKind.Name:
                Next();
                return token.Text switch
                {
                    "true" or "True" => new ConstExpr(true, token.Line),
                    "false" or "False" => new ConstExpr(false, token.Line),
                    "none" or "None" => new ConstExpr(null, token.Line),
                    _ => new NameExpr(token.Text, token.Line),
                };
            case TokenKind.String:
                // Adjacent literals concatenate, as in Python.
                var text = (string)Next().Value!;
                while (Current.Kind == TokenKind.String) text += (string)Next().Value!;
                return new ConstExpr(text, token.Line);
            case TokenKind.Integer:
            case TokenKind.Float:
                Next();
                return new ConstExpr(token.Value, token.Line);
            case TokenKind.Operator when token.Text == "(":
                Next();
                if (SkipOperator(")")) return new TupleExpr([], token.Line);
                var inner = ParseTuple(withCondExpr: true);
                ExpectOperator(")");
                return inner;
            case TokenKind.Operator when token.Text == "[":
                Next();
                var items = new List<Expr>();
                while (!Current.IsOperator("]"))
                {
                    if (items.Count > 0) ExpectOperator(",");
                    if (Current.IsOperator("]")) break;
                    items.Add(ParseExpression());
                }

                Next();
                return new ListExpr(items, token.Line);
            case TokenKind.Operator when token.Text == "{":
                Next();
                var pairs = new List<(Expr, Expr)>();
                while (!Current.IsOperator("}"))
                {
                    if (pairs.Count > 0) ExpectOperator(",");
                    if (Current.IsOperator("}")) break;
                    var key = ParseExpression();
                    ExpectOperator(":");
                    pairs.Add((key, ParseExpression()));
                }

                Next();
                return new DictExpr(pairs, token.Line);
            default:
                throw Error($"unexpected '{token}'", token);
        }
    }

    private Expr ParsePostfix(Expr node)
    {
        while (true)
        {
            var token = Current;
            if (token.IsOperator("."))
            {
                Next();
                var attr = Next();
                node = attr.Kind switch
                {
                    TokenKind.Name => new AttrExpr(node, attr.Text, token.Line),
                    TokenKind.Integer => new ItemExpr(node, new ConstExpr(attr.Value, attr.Line), token.Line),
                    _ => throw Error("expected name or number", attr),
                };
            }
            else if (token.IsOperator("["))
            {
                Next();
                var keys = new List<Expr>();
                while (!Current.IsOperator("]"))
                {
                    if (keys.Count > 0) ExpectOperator(",");
                    keys.Add(ParseSubscript());
                }

                Next();
                var key = keys.Count == 1 ? keys[0] : new TupleExpr(keys, token.Line);
                node = new ItemExpr(node, key, token.Line);
            }
            else if (token.IsOperator("("))
            {
                node = new CallExpr(node, ParseCallArgs(), token.Line);
            }
            else
            {
                return node;
            }
        }
    }

    private Expr ParseSubscript()
    {
        var line = Current.Line;
        Expr? start = null;
        if (!Current.IsOperator(":"))
        {
            start = ParseExpression();
            if (!Current.IsOperator(":")) return start;
        }

        Next();
        Expr? stop = Current.IsOperator("]") || Current.IsOperator(",") || Current.IsOperator(":") ? null : ParseExpression();
        Expr? step = null;
        if (SkipOperator(":") && !Current.IsOperator("]") && !Current.IsOperator(","))
            step = ParseExpression();
        return new SliceExpr(start, stop, step, line);
    }

    private ArgList ParseCallArgs()
    {
        ExpectOperator("(");
        var positional = new List<Expr>();
        var named = new List<(string, Expr)>();
        Expr? star = null, doubleStar = null;
        var first = true;
        while (!Current.IsOperator(")"))
        {
            if (!first) ExpectOperator(",");
            first = false;
            if (Current.IsOperator(")")) break;
            if (SkipOperator("*")) star = ParseExpression();
            else if (SkipOperator("**")) doubleStar = ParseExpression();
            else if (Current.Kind == TokenKind.Name && Peek().IsOperator("="))
            {
                var name = Next().Text;
                Next();
                named.Add((name, ParseExpression()));
            }
            else
            {
                if (named.Count > 0) throw Error("positional argument follows keyword argument", Current);
                positional.Add(ParseExpression());
            }
        }

        Next();
        return positional.Count == 0 && named.Count == 0 && star is null && doubleStar is null
            ? ArgList.Empty
            : new ArgList(positional, named, star, doubleStar);
    }

    private Expr ParseFilterExpr(Expr node)
    {
        while (true)
        {
            if (Current.IsOperator("|")) node = ParseFilterChain(node, startInline: false)[^1];
            else if (Current.IsName("is")) node = ParseTest(node);
            else if (Current.IsOperator("(")) node = new CallExpr(node, ParseCallArgs(), Current.Line);
            else return node;
        }
    }

    /// <summary>
    /// <c>| f(args) | g</c>: each filter wraps the previous. For filter blocks and block sets the chain starts
    /// without a value (<paramref name="node"/> null) and is applied to captured output.
    /// </summary>
    private List<FilterExpr> ParseFilterChain(Expr? node = null, bool startInline = false)
    {
        var chain = new List<FilterExpr>();
        while (Current.IsOperator("|") || startInline)
        {
            if (!startInline) Next();
            startInline = false;
            var token = Current;
            var name = ExpectName();
            while (Current.IsOperator(".") && Peek().Kind == TokenKind.Name)
            {
                Next();
                name += "." + Next().Text;
            }

            var fn = Filters.Find(name) ?? throw Error($"No filter named '{name}'.", token);
            var args = Current.IsOperator("(") ? ParseCallArgs() : ArgList.Empty;
            var filter = new FilterExpr(node, name, fn, args, token.Line);
            chain.Add(filter);
            node = filter;
        }

        return chain;
    }

    private TestExpr ParseTest(Expr node)
    {
        var line = Next().Line;
        var negated = SkipName("not");
        var token = Current;
        var name = ExpectName();
        while (Current.IsOperator(".") && Peek().Kind == TokenKind.Name)
        {
            Next();
            name += "." + Next().Text;
        }

        var fn = Tests.Find(name) ?? throw Error($"No test named '{name}'.", token);
        ArgList args = ArgList.Empty;
        if (Current.IsOperator("("))
        {
            args = ParseCallArgs();
        }
        else if ((Current.Kind is TokenKind.Name or TokenKind.String or TokenKind.Integer or TokenKind.Float
                  || Current.IsOperator("(") || Current.IsOperator("[") || Current.IsOperator("{"))
                 && !(Current.IsName("else") || Current.IsName("or") || Current.IsName("and")))
        {
            // "is equalto 'user'": one argument without parentheses.
            var arg = ParsePostfix(ParsePrimary());
            args = new ArgList([arg], []);
        }

        return new TestExpr(node, name, fn, args, negated, line);
    }
}
