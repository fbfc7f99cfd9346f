using System.Text;

namespace InferenceServer.StructuredOutputs;

/// <summary>
/// A regular language over bytes, as a tree the JSON-schema and regex compilers produce. <see cref="Build"/> adds a
/// fresh copy of the language to an NFA each time it is called (bounded repeats build several copies).
/// </summary>
internal abstract class GrammarNode
{
    public abstract Fragment Build(Nfa nfa, BuildContext context);

    public static GrammarNode Text(string text) => new LiteralNode(Encoding.UTF8.GetBytes(text));

    public static GrammarNode Seq(params GrammarNode[] parts) => parts.Length == 1 ? parts[0] : new SeqNode(parts);

    public static GrammarNode Choice(params GrammarNode[] options) => options.Length == 1 ? options[0] : new ChoiceNode(options);

    public static GrammarNode Optional(GrammarNode node) => new RepeatNode(node, 0, 1);
}

/// <summary>State shared while one grammar builds: how deep recursive references are expanded.</summary>
internal sealed class BuildContext(int maxRecursion)
{
    public int MaxRecursion { get; } = maxRecursion;

    public Dictionary<string, int> RefDepth { get; } = [];
}

/// <summary>Exactly these bytes.</summary>
internal sealed class LiteralNode(byte[] bytes) : GrammarNode
{
    public override Fragment Build(Nfa nfa, BuildContext context)
    {
        int start = nfa.NewState(), at = start;
        foreach (var b in bytes)
        {
            int next = nfa.NewState();
            nfa.AddEdge(at, b, b, next);
            at = next;
        }
        return new Fragment(start, at);
    }
}

/// <summary>One character from a set of code-point ranges, as UTF-8 (surrogates excluded).</summary>
internal sealed class CodePointSetNode(IReadOnlyList<(int Lo, int Hi)> ranges) : GrammarNode
{
    public IReadOnlyList<(int Lo, int Hi)> Ranges { get; } = ranges;

    public override Fragment Build(Nfa nfa, BuildContext context)
    {
        int start = nfa.NewState(), end = nfa.NewState();
        foreach (var (lo, hi) in Ranges)
            foreach (var sequence in Utf8Sequences.Of(lo, hi))
            {
                int at = start;
                for (int i = 0; i < sequence.Length; i++)
                {
                    int next = i == sequence.Length - 1 ? end : nfa.NewState();
                    nfa.AddEdge(at, sequence[i].Lo, sequence[i].Hi, next);
                    at = next;
                }
            }
        return new Fragment(start, end);
    }
}

internal sealed class SeqNode(GrammarNode[] parts) : GrammarNode
{
    public override Fragment Build(Nfa nfa, BuildContext context)
    {
        int start = nfa.NewState(), at = start;
        foreach (var part in parts)
        {
            var f = part.Build(nfa, context);
            nfa.AddEpsilon(at, f.Start);
            at = f.End;
        }
        return new Fragment(start, at);
    }
}

internal sealed class ChoiceNode(GrammarNode[] options) : GrammarNode
{
    public override Fragment Build(Nfa nfa, BuildContext context)
    {
        int start = nfa.NewState(), end = nfa.NewState();
        foreach (var option in options)
        {
            var f = option.Build(nfa, context);
            nfa.AddEpsilon(start, f.Start);
            nfa.AddEpsilon(f.End, end);
        }
        return new Fragment(start, end);
    }
}

/// <summary>The empty language: nothing matches (a recursion cut off, an empty enum).</summary>
internal sealed class NothingNode : GrammarNode
{
    public static NothingNode Instance { get; } = new();

    public override Fragment Build(Nfa nfa, BuildContext context) => new(nfa.NewState(), nfa.NewState());
}

/// <summary><c>node{min,max}</c>; <paramref name="max"/> -1 = unbounded (one looping copy after the required ones).</summary>
internal sealed class RepeatNode(GrammarNode node, int min, int max) : GrammarNode
{
    public const int MaxCount = 1000;

    public override Fragment Build(Nfa nfa, BuildContext context)
    {
        if (min > MaxCount || max > MaxCount)
            throw new GrammarException($"a repetition count above {MaxCount} is not supported", "{n,m}");
        int start = nfa.NewState(), at = start;
        for (int i = 0; i < min; i++)
        {
            var f = node.Build(nfa, context);
            nfa.AddEpsilon(at, f.Start);
            at = f.End;
        }
        int end = nfa.NewState();
        nfa.AddEpsilon(at, end);
        if (max < 0)
        {
            var loop = node.Build(nfa, context);
            nfa.AddEpsilon(at, loop.Start);
            nfa.AddEpsilon(loop.End, loop.Start);
            nfa.AddEpsilon(loop.End, end);
            return new Fragment(start, end);
        }
        for (int i = min; i < max; i++)   // each optional copy may end the run
        {
            var f = node.Build(nfa, context);
            nfa.AddEpsilon(at, f.Start);
            nfa.AddEpsilon(f.End, end);
            at = f.End;
        }
        return new Fragment(start, end);
    }
}

/// <summary>
/// <c>open (item (separator item)*)? close</c> with at least <paramref name="minItems"/> (0 or 1) items. The item is
/// built once and looped through the separator, so nested lists grow the automaton linearly with depth.
/// </summary>
internal sealed class SeparatedListNode(GrammarNode open, GrammarNode item, GrammarNode separator, GrammarNode close, int minItems) : GrammarNode
{
    public override Fragment Build(Nfa nfa, BuildContext context)
    {
        var o = open.Build(nfa, context);
        var i = item.Build(nfa, context);
        var s = separator.Build(nfa, context);
        var c = close.Build(nfa, context);
        nfa.AddEpsilon(o.End, i.Start);
        if (minItems == 0) nfa.AddEpsilon(o.End, c.Start);
        nfa.AddEpsilon(i.End, s.Start);
        nfa.AddEpsilon(s.End, i.Start);
        nfa.AddEpsilon(i.End, c.Start);
        return new Fragment(o.Start, c.End);
    }
}

/// <summary>
/// A reference to a named definition, expanded on demand: recursive definitions are unrolled up to
/// <see cref="BuildContext.MaxRecursion"/> nested expansions of the same name, beyond which the reference matches
/// nothing (so the enclosing optional or empty alternative must be taken).
/// </summary>
internal sealed class ReferenceNode(string name, Func<GrammarNode> resolve) : GrammarNode
{
    public override Fragment Build(Nfa nfa, BuildContext context)
    {
        int depth = context.RefDepth.GetValueOrDefault(name);
        if (depth >= context.MaxRecursion)
            return NothingNode.Instance.Build(nfa, context);
        context.RefDepth[name] = depth + 1;
        try { return resolve().Build(nfa, context); }
        finally { context.RefDepth[name] = depth; }
    }
}
