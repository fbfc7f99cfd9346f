
namespace InferenceServer.StructuredOutputs;

/// <summary>One property of a JSON object: its key as JSON text (<c>"name"</c>), its value, and whether it must appear.</summary>
internal sealed record ObjectProperty(string JsonKey, GrammarNode Value, bool Required);

/// <summary>
/// A JSON object whose properties appear in the schema's order, each required one exactly once and each optional one
/// at most once, with commas between. States none_i / some_i say whether a property came before property i; each
/// member is built once, entered from none_i directly or from some_i through a comma.
/// </summary>
internal sealed class ObjectNode(IReadOnlyList<ObjectProperty> properties) : GrammarNode
{
    public override Fragment Build(Nfa nfa, BuildContext context)
    {
        var open = Text("{").Build(nfa, context);
        int none = open.End, some = nfa.NewState();
        foreach (var p in properties)
        {
            var member = Seq(Text(p.JsonKey + ":"), p.Value).Build(nfa, context);
            var comma = Text(",").Build(nfa, context);
            nfa.AddEpsilon(none, member.Start);
            nfa.AddEpsilon(some, comma.Start);
            nfa.AddEpsilon(comma.End, member.Start);
            int nextNone = nfa.NewState(), nextSome = nfa.NewState();
            nfa.AddEpsilon(member.End, nextSome);
            if (!p.Required)
            {
                nfa.AddEpsilon(none, nextNone);
                nfa.AddEpsilon(some, nextSome);
            }
            (none, some) = (nextNone, nextSome);
        }
        var close = Text("}").Build(nfa, context);
        nfa.AddEpsilon(none, close.Start);
        nfa.AddEpsilon(some, close.Start);
        return new Fragment(open.Start, close.End);
    }
}
