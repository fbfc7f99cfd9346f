namespace InferenceServer.Tokenization.Templates;

// Statement nodes: the template body is a list of these, executed in order.

internal abstract record Node(int Line);

internal sealed record TextNode(string Text, int Line) : Node(Line);

internal sealed record OutputNode(Expr Value, int Line) : Node(Line);

internal sealed record IfNode(IReadOnlyList<(Expr Condition, IReadOnlyList<Node> Body)> Branches, IReadOnlyList<Node>? Else, int Line) : Node(Line);

internal sealed record ForNode(Target Target, Expr Iterable, Expr? Filter, IReadOnlyList<Node> Body, IReadOnlyList<Node>? Else, bool Recursive, int Line) : Node(Line);

internal sealed record SetNode(Target Target, Expr Value, int Line) : Node(Line);

/// <summary><c>{% set x | filters %}body{% endset %}</c>: captures the rendered body.</summary>
internal sealed record SetBlockNode(Target Target, IReadOnlyList<FilterExpr> Filters, IReadOnlyList<Node> Body, int Line) : Node(Line);

internal sealed record MacroNode(string Name, IReadOnlyList<(string Name, Expr? Default)> Parameters, IReadOnlyList<Node> Body, int Line) : Node(Line);

/// <summary><c>{% call(params) macro(args) %}body{% endcall %}</c>: the body becomes <c>caller</c>.</summary>
internal sealed record CallBlockNode(CallExpr Call, IReadOnlyList<(string Name, Expr? Default)> Parameters, IReadOnlyList<Node> Body, int Line) : Node(Line);

internal sealed record FilterBlockNode(IReadOnlyList<FilterExpr> Filters, IReadOnlyList<Node> Body, int Line) : Node(Line);

internal sealed record WithNode(IReadOnlyList<(Target Target, Expr Value)> Assignments, IReadOnlyList<Node> Body, int Line) : Node(Line);

/// <summary>A body rendered in place: transformers' <c>{% generation %}</c> marks assistant text but changes no output.</summary>
internal sealed record ScopeNode(IReadOnlyList<Node> Body, int Line) : Node(Line);

internal sealed record BreakNode(int Line) : Node(Line);

internal sealed record ContinueNode(int Line) : Node(Line);

/// <summary>The left side of an assignment or a loop variable.</summary>
internal abstract record Target(int Line);

internal sealed record NameTarget(string Name, int Line) : Target(Line);

internal sealed record TupleTarget(IReadOnlyList<Target> Items, int Line) : Target(Line);

/// <summary><c>ns.attr</c>: only namespaces accept attribute assignment.</summary>
internal sealed record AttrTarget(string Object, string Attribute, int Line) : Target(Line);
