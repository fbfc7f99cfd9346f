namespace InferenceServer.Tokenization.Templates;

// Expression nodes. Each carries the template line it starts on, for runtime error messages.

internal abstract record Expr(int Line);

internal sealed record ConstExpr(object? Value, int Line) : Expr(Line);

internal sealed record NameExpr(string Name, int Line) : Expr(Line);

internal sealed record ListExpr(IReadOnlyList<Expr> Items, int Line) : Expr(Line);

internal sealed record TupleExpr(IReadOnlyList<Expr> Items, int Line) : Expr(Line);

internal sealed record DictExpr(IReadOnlyList<(Expr Key, Expr Value)> Pairs, int Line) : Expr(Line);

/// <summary><c>obj.name</c>: attribute first, then item (jinja2's <c>getattr</c>).</summary>
internal sealed record AttrExpr(Expr Target, string Name, int Line) : Expr(Line);

/// <summary><c>obj[key]</c>: item first, then attribute (jinja2's <c>getitem</c>).</summary>
internal sealed record ItemExpr(Expr Target, Expr Key, int Line) : Expr(Line);

/// <summary>The <c>a:b:c</c> inside brackets; evaluates to a <see cref="PySlice"/>.</summary>
internal sealed record SliceExpr(Expr? Start, Expr? Stop, Expr? Step, int Line) : Expr(Line);

/// <summary>Call arguments as written: positional, keyword, and optional <c>*args</c>/<c>**kwargs</c>.</summary>
internal sealed record ArgList(IReadOnlyList<Expr> Positional, IReadOnlyList<(string Name, Expr Value)> Named, Expr? Star = null, Expr? DoubleStar = null)
{
    public static readonly ArgList Empty = new([], []);
}

internal sealed record CallExpr(Expr Target, ArgList Args, int Line) : Expr(Line);

/// <summary><c>value | name(args)</c>; the filter is resolved when parsing.</summary>
internal sealed record FilterExpr(Expr? Value, string Name, FilterFn Filter, ArgList Args, int Line) : Expr(Line);

/// <summary><c>value is [not] name(args)</c>; the test is resolved when parsing.</summary>
internal sealed record TestExpr(Expr Value, string Name, TestFn Test, ArgList Args, bool Negated, int Line) : Expr(Line);

internal sealed record UnaryExpr(string Op, Expr Operand, int Line) : Expr(Line);

/// <summary>Arithmetic and <c>~</c>: <c>+ - * / // % ** ~</c>.</summary>
internal sealed record BinaryExpr(string Op, Expr Left, Expr Right, int Line) : Expr(Line);

internal sealed record AndExpr(Expr Left, Expr Right, int Line) : Expr(Line);

internal sealed record OrExpr(Expr Left, Expr Right, int Line) : Expr(Line);

internal sealed record NotExpr(Expr Operand, int Line) : Expr(Line);

/// <summary>A chain like <c>a &lt; b &lt;= c</c>: Python evaluates each pair, stopping at the first false.</summary>
internal sealed record CompareExpr(Expr First, IReadOnlyList<(string Op, Expr Right)> Rest, int Line) : Expr(Line);

/// <summary><c>a if cond else b</c>; without <c>else</c> a false condition gives undefined.</summary>
internal sealed record CondExpr(Expr Condition, Expr Then, Expr? Else, int Line) : Expr(Line);
