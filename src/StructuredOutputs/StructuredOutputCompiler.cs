using System.Collections.Concurrent;
using System.Text.Json;

namespace InferenceServer.StructuredOutputs;

/// <summary>
/// Compiles constraints for one vocabulary and caches the results per constraint (by kind and canonical text), so
/// requests repeating a schema share its automaton and its per-state token masks. Thread-safe.
/// </summary>
/// <param name="maxCached">Compiled constraints kept; past it the cache starts over.</param>
public sealed class StructuredOutputCompiler(TokenVocabulary vocabulary, int maxCached = 256)
{
    private readonly ConcurrentDictionary<string, Lazy<TokenGrammar>> _cache = new();

    public TokenVocabulary Vocabulary => vocabulary;

    /// <summary>Compiled constraints in the cache.</summary>
    public int CachedCount => _cache.Count;

    /// <summary>Output that is one JSON value valid for <paramref name="schema"/> (the supported JSON Schema subset: see README).</summary>
    /// <exception cref="GrammarException">A keyword outside the subset (named in <see cref="GrammarException.Keyword"/>), or a malformed schema.</exception>
    public TokenGrammar JsonSchema(JsonElement schema) =>
        Cached("json_schema:" + JsonSchemaCompiler.CompactJson(schema), "json_schema", () => JsonSchemaCompiler.Compile(schema));

    /// <summary>Output that is one JSON object (OpenAI's json_object mode); values nest at most 5 deep.</summary>
    public TokenGrammar JsonObject() =>
        Cached("json_object", "json_object", () => JsonPrimitives.AnyObject(JsonPrimitives.AnyValueDepth));

    /// <summary>Output that matches <paramref name="pattern"/> in full (vLLM's guided_regex).</summary>
    public TokenGrammar Regex(string pattern) => Cached("regex:" + pattern, $"regex '{pattern}'", () => RegexParser.Parse(pattern));

    /// <summary>Output that is exactly one of <paramref name="choices"/> (vLLM's guided_choice).</summary>
    public TokenGrammar Choice(IReadOnlyList<string> choices)
    {
        if (choices.Count == 0) throw new GrammarException("guided_choice needs at least one choice", "guided_choice");
        return Cached("choice:" + JsonSerializer.Serialize(choices), "guided_choice",
            () => GrammarNode.Choice(choices.Select(GrammarNode.Text).ToArray()));
    }

    private TokenGrammar Cached(string key, string description, Func<GrammarNode> grammar)
    {
        if (_cache.Count >= maxCached) _cache.Clear();
        var lazy = _cache.GetOrAdd(key, _ => new Lazy<TokenGrammar>(() => Build(grammar(), description)));
        try { return lazy.Value; }
        catch (GrammarException) { _cache.TryRemove(key, out _); throw; }
    }

    private TokenGrammar Build(GrammarNode grammar, string description)
    {
        var nfa = new Nfa();
        var f = grammar.Build(nfa, new BuildContext(JsonSchemaCompiler.MaxRecursion));
        nfa.Start = f.Start;
        nfa.Accept = f.End;
        return new TokenGrammar(nfa, vocabulary, description);
    }
}
