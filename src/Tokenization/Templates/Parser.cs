namespace InferenceServer.Tokenization.Templates;

/// <summary>
/// Recursive-descent parser for statements (this file) and expressions (Parser.Expressions.cs), following
/// jinja2's grammar and operator precedence. Filters and tests are resolved here, so unknown names fail at parse time.
/// </summary>
internal sealed partial class Parser
{
    private readonly List<Token> _tokens;
    private int _index;
    private int _loopDepth;
    private int _nesting;   // open blocks plus open sub-expressions, against NestingLimits.Parse

    private Parser(List<Token> tokens) => _tokens = tokens;

    public static IReadOnlyList<Node> ParseTemplate(string source)
    {
        var parser = new Parser(Lexer.Tokenize(source));
        var body = parser.ParseBody([], null, out _);
        return body;
    }

    private Token Current => _tokens[_index];

    private Token Peek(int offset = 1) => _tokens[Math.Min(_index + offset, _tokens.Count - 1)];

    private Token Next() => _tokens[_index < _tokens.Count - 1 ? _index++ : _index];

    private static TemplateSyntaxException Error(string message, Token at) => new(message, at.Line);

    private Token Expect(TokenKind kind, string describe)
    {
        if (Current.Kind != kind) throw Error($"expected token '{describe}', got '{Current}'", Current);
        return Next();
    }

    private void ExpectOperator(string op)
    {
        if (!Current.IsOperator(op)) throw Error($"expected token '{op}', got '{Current}'", Current);
        Next();
    }

    private string ExpectName()
    {
        if (Current.Kind != TokenKind.Name) throw Error($"expected token 'name', got '{Current}'", Current);
        return Next().Text;
    }

    private bool SkipName(string name)
    {
        if (!Current.IsName(name)) return false;
        Next();
        return true;
    }

    private bool SkipOperator(string op)
    {
        if (!Current.IsOperator(op)) return false;
        Next();
        return true;
    }

    private void ExpectBlockEnd() => Expect(TokenKind.BlockEnd, "end of statement block");

    /// <summary>
    /// Parses nodes until one of <paramref name="endTags"/> opens a block tag; the tag's name is consumed and returned
    /// in <paramref name="endTag"/>, the rest of that tag is left to the caller.
    /// </summary>
    private List<Node> ParseBody(string[] endTags, string? innermost, out string endTag)
    {
        EnterNesting(Current);
        try
        {
            return ParseBodyNodes(endTags, innermost, out endTag);
        }
        finally
        {
            _nesting--;
        }
    }

    /// <summary>One more level of nesting; a template nested past <see cref="NestingLimits.Parse"/> is a syntax error.</summary>
    private void EnterNesting(Token at)
    {
        if (++_nesting > NestingLimits.Parse || !NestingLimits.StackLeft())
            throw Error($"the template nests blocks and expressions more than {NestingLimits.Parse} deep", at);
    }

    private List<Node> ParseBodyNodes(string[] endTags, string? innermost, out string endTag)
    {
        var body = new List<Node>();
        while (true)
        {
            var token = Current;
            switch (token.Kind)
            {
                case TokenKind.Text:
                    body.Add(new TextNode(token.Text, token.Line));
                    Next();
                    break;
                case TokenKind.VariableBegin:
                    Next();
                    var expr = ParseTuple(withCondExpr: true);
                    Expect(TokenKind.VariableEnd, "end of print statement");
                    body.Add(new OutputNode(expr, token.Line));
                    break;
                case TokenKind.BlockBegin:
                    Next();
                    var name = Current;
                    if (name.Kind != TokenKind.Name) throw Error("tag name expected", name);
                    if (endTags.Contains(name.Text))
                    {
                        Next();
                        endTag = name.Text;
                        return body;
                    }

                    body.AddRange(ParseStatement(endTags, innermost));
                    break;
                case TokenKind.End:
                    if (endTags.Length == 0)
                    {
                        endTag = "";
                        return body;
                    }

                    throw Error(
                        $"Unexpected end of template. Jinja was looking for the following tags: {string.Join(" or ", endTags.Select(t => $"'{t}'"))}. The innermost block that needs to be closed is '{innermost}'.",
                        token);
                default:
                    throw Error($"unexpected '{token}'", token);
            }
        }
    }

    private IEnumerable<Node> ParseStatement(string[] outerEndTags, string? outerInnermost)
    {
        var tag = Next();
        switch (tag.Text)
        {
            case "if": return [ParseIf(tag)];
            case "for": return [ParseFor(tag)];
            case "set": return [ParseSet(tag)];
            case "macro": return [ParseMacro(tag)];
            case "call": return [ParseCallBlock(tag)];
            case "filter": return [ParseFilterBlock(tag)];
            case "with": return [ParseWith(tag)];
            case "generation":
                ExpectBlockEnd();
                var body = ParseBody(["endgeneration"], "generation", out _);
                ExpectBlockEnd();
                return [new ScopeNode(body, tag.Line)];
            case "break" or "continue" when _loopDepth > 0:
                ExpectBlockEnd();
                return [tag.Text == "break" ? new BreakNode(tag.Line) : new ContinueNode(tag.Line)];
        }

        var message = $"Encountered unknown tag '{tag.Text}'.";
        if (outerEndTags.Length > 0)
            message += $" Jinja was looking for the following tags: {string.Join(" or ", outerEndTags.Select(t => $"'{t}'"))}. The innermost block that needs to be closed is '{outerInnermost}'.";
        throw Error(message, tag);
    }

    private IfNode ParseIf(Token tag)
    {
        var branches = new List<(Expr, IReadOnlyList<Node>)>();
        IReadOnlyList<Node>? elseBody = null;
        var condition = ParseTuple(withCondExpr: false);
        while (true)
        {
            ExpectBlockEnd();
            var body = ParseBody(["elif", "else", "endif"], "if", out var end);
            branches.Add((condition, body));
            if (end == "elif")
            {
                condition = ParseTuple(withCondExpr: false);
                continue;
            }

            if (end == "else")
            {
                ExpectBlockEnd();
                elseBody = ParseBody(["endif"], "if", out _);
            }

            ExpectBlockEnd();
            return new IfNode(branches, elseBody, tag.Line);
        }
    }

    private ForNode ParseFor(Token tag)
    {
        var target = ParseTarget(allowNamespace: false);
        if (!SkipName("in")) throw Error($"expected token 'in', got '{Current}'", Current);
        var iterable = ParseTuple(withCondExpr: false, "recursive");
        Expr? filter = SkipName("if") ? ParseExpression() : null;
        var recursive = SkipName("recursive");
        ExpectBlockEnd();
        _loopDepth++;
        var body = ParseBody(["endfor", "else"], "for", out var end);
        _loopDepth--;
        IReadOnlyList<Node>? elseBody = null;
        if (end == "else")
        {
            ExpectBlockEnd();
            elseBody = ParseBody(["endfor"], "for", out _);
        }

        ExpectBlockEnd();
        return new ForNode(target, iterable, filter, body, elseBody, recursive, tag.Line);
    }

    private Node ParseSet(Token tag)
    {
        var target = ParseTarget(allowNamespace: true);
        if (SkipOperator("="))
        {
            var value = ParseTuple(withCondExpr: true);
            ExpectBlockEnd();
            return new SetNode(target, value, tag.Line);
        }

        var filters = ParseFilterChain();
        ExpectBlockEnd();
        var body = ParseBody(["endset"], "set", out _);
        ExpectBlockEnd();
        return new SetBlockNode(target, filters, body, tag.Line);
    }

    private MacroNode ParseMacro(Token tag)
    {
        var name = ExpectName();
        var parameters = ParseParameters();
        ExpectBlockEnd();
        var saved = _loopDepth;
        _loopDepth = 0;
        var body = ParseBody(["endmacro"], "macro", out _);
        _loopDepth = saved;
        if (Current.Kind == TokenKind.Name) Next();
        ExpectBlockEnd();
        return new MacroNode(name, parameters, body, tag.Line);
    }

    private CallBlockNode ParseCallBlock(Token tag)
    {
        var parameters = Current.IsOperator("(") ? ParseParameters() : [];
        var call = ParseExpression();
        if (call is not CallExpr callExpr) throw Error("expected call", tag);
        ExpectBlockEnd();
        var saved = _loopDepth;
        _loopDepth = 0;
        var body = ParseBody(["endcall"], "call", out _);
        _loopDepth = saved;
        ExpectBlockEnd();
        return new CallBlockNode(callExpr, parameters, body, tag.Line);
    }

    private FilterBlockNode ParseFilterBlock(Token tag)
    {
        var filters = ParseFilterChain(startInline: true);
        ExpectBlockEnd();
        var body = ParseBody(["endfilter"], "filter", out _);
        ExpectBlockEnd();
        return new FilterBlockNode(filters, body, tag.Line);
    }

    private WithNode ParseWith(Token tag)
    {
        var assignments = new List<(Target, Expr)>();
        while (Current.Kind != TokenKind.BlockEnd)
        {
            if (assignments.Count > 0) ExpectOperator(",");
            var target = ParseTarget(allowNamespace: false);
            ExpectOperator("=");
            assignments.Add((target, ParseExpression()));
        }

        ExpectBlockEnd();
        var body = ParseBody(["endwith"], "with", out _);
        ExpectBlockEnd();
        return new WithNode(assignments, body, tag.Line);
    }

    private List<(string Name, Expr? Default)> ParseParameters()
    {
        var parameters = new List<(string, Expr?)>();
        ExpectOperator("(");
        while (!Current.IsOperator(")"))
        {
            if (parameters.Count > 0) ExpectOperator(",");
            if (Current.IsOperator(")")) break;
            var name = ExpectName();
            parameters.Add((name, SkipOperator("=") ? ParseExpression() : null));
        }

        Next();
        return parameters;
    }

    /// <summary>Assignment/loop targets: names, parenthesised or comma-separated tuples, and <c>ns.attr</c>.</summary>
    private Target ParseTarget(bool allowNamespace)
    {
        var line = Current.Line;
        var first = ParseTargetItem(allowNamespace);
        if (!Current.IsOperator(",")) return first;
        var items = new List<Target> { first };
        while (SkipOperator(","))
        {
            if (Current.IsName("in") || Current.IsOperator("=") || Current.Kind == TokenKind.BlockEnd) break;
            items.Add(ParseTargetItem(allowNamespace: false));
        }

        return new TupleTarget(items, line);
    }

    private Target ParseTargetItem(bool allowNamespace)
    {
        var line = Current.Line;
        if (SkipOperator("("))
        {
            var items = new List<Target>();
            while (!Current.IsOperator(")"))
            {
                if (items.Count > 0) ExpectOperator(",");
                if (Current.IsOperator(")")) break;
                items.Add(ParseTargetItem(allowNamespace: false));
            }

            Next();
            return new TupleTarget(items, line);
        }

        var name = ExpectName();
        if (name is "true" or "false" or "none" or "True" or "False" or "None")
            throw Error($"can't assign to '{name}'", Current);
        if (allowNamespace && Current.IsOperator(".") && Peek().Kind == TokenKind.Name)
        {
            Next();
            return new AttrTarget(name, Next().Text, line);
        }

        return new NameTarget(name, line);
    }
}
