
namespace InferenceServer.StructuredOutputs;

/// <summary>
/// A constraint compiled for one vocabulary: a byte automaton (lazily determinized) and, per automaton state, the
/// bitmask of tokens that keep the output inside the language, computed on the state's first visit by walking the
/// vocabulary trie and then cached. Shared by every request with the same constraint (see
/// <see cref="StructuredOutputCompiler"/>); each request tracks its position with a <see cref="GrammarMatcher"/>.
/// Thread-safe: cache misses are filled under a lock.
/// </summary>
public sealed class TokenGrammar
{
    private readonly LazyDfa _dfa;
    private readonly Lock _lock = new();
    private readonly Dictionary<int, (uint[] Mask, int MaxDistance)> _masks = [];
    private readonly Dictionary<(int State, int Limit), uint[]> _tightMasks = [];
    private int _masksBuilt;

    internal TokenGrammar(Nfa nfa, TokenVocabulary vocabulary, string description)
    {
        Vocabulary = vocabulary;
        Description = description;
        _dfa = new LazyDfa(nfa, vocabulary.SingleByteTokens);
        if (_dfa.Start == LazyDfa.Dead)
            throw new GrammarException($"the constraint ({description}) matches no text that this vocabulary can spell");
    }

    public TokenVocabulary Vocabulary { get; }

    /// <summary>What was compiled, for messages ("json_schema", "regex '…'", …).</summary>
    public string Description { get; }

    /// <summary>Fewest tokens that spell a complete output from the start: a request needs max_tokens above this.</summary>
    public int MinimumTokens => _dfa.Distance(_dfa.Start);

    /// <summary>Automaton states built so far (memory grows with them: 1 KiB of transitions plus a mask each).</summary>
    public int StatesBuilt { get { lock (_lock) return _dfa.StateCount; } }

    /// <summary>Token masks built so far (one vocabulary-trie walk each; budget-limited masks included).</summary>
    public int MasksBuilt { get { lock (_lock) return _masksBuilt; } }

    /// <summary>A fresh matcher at the start of the output.</summary>
    public GrammarMatcher NewMatcher() => new(this);

    /// <summary>Whether <paramref name="text"/> (as UTF-8) is a complete output of the language.</summary>
    public bool Matches(string text)
    {
        int state = Step(StartState, System.Text.Encoding.UTF8.GetBytes(text));
        return state != LazyDfa.Dead && IsAccepting(state);
    }

    internal int StartState => _dfa.Start;

    internal bool IsAccepting(int state) { lock (_lock) return _dfa.IsAccepting(state); }

    internal int Distance(int state) { lock (_lock) return _dfa.Distance(state); }

    /// <summary>The state after <paramref name="bytes"/>, or <see cref="LazyDfa.Dead"/>.</summary>
    internal int Step(int state, ReadOnlySpan<byte> bytes)
    {
        lock (_lock)
        {
            foreach (var b in bytes)
            {
                state = _dfa.Next(state, b);
                if (state == LazyDfa.Dead) break;
            }
            return state;
        }
    }

    /// <summary>
    /// The tokens allowed in <paramref name="state"/>: every token that keeps the output in the language, and, when
    /// <paramref name="limit"/> is set, only those after which acceptance is at most <paramref name="limit"/>
    /// single-byte tokens away. With a limit no token meets, the tokens closest to acceptance.
    /// </summary>
    internal uint[] Mask(int state, int? limit)
    {
        lock (_lock)
        {
            if (!_masks.TryGetValue(state, out var full))
            {
                var mask = Walk(state, int.MaxValue, out var maxDistance, out _);
                _masks[state] = full = (mask, maxDistance);
            }
            if (limit is not int l || full.MaxDistance <= l) return full.Mask;
            if (_tightMasks.TryGetValue((state, l), out var tight)) return tight;
            tight = Walk(state, l, out _, out var minDistance);
            if (minDistance > l) tight = Walk(state, minDistance, out _, out _);
            if (_tightMasks.Count > 4096) _tightMasks.Clear();
            return _tightMasks[(state, l)] = tight;
        }
    }

    /// <summary>Depth-first walk of the vocabulary trie alongside the automaton from <paramref name="state"/>.</summary>
    private uint[] Walk(int state, int limit, out int maxDistance, out int minDistance)
    {
        var v = Vocabulary;
        var mask = new uint[v.MaskWords];
        _masksBuilt++;
        maxDistance = 0;
        minDistance = int.MaxValue;
        var stack = new Stack<(int Node, int State)>();
        stack.Push((0, state));
        while (stack.Count > 0)
        {
            var (node, at) = stack.Pop();
            for (int c = v.ChildStart[node]; c < v.ChildStart[node + 1]; c++)
            {
                int next = _dfa.Next(at, v.ChildByte[c]);
                if (next == LazyDfa.Dead) continue;
                int child = v.ChildNode[c];
                int distance = _dfa.Distance(next);
                if (v.TokenStart[child] < v.TokenStart[child + 1])
                {
                    minDistance = Math.Min(minDistance, distance);
                    if (distance <= limit)
                    {
                        maxDistance = Math.Max(maxDistance, distance);
                        for (int t = v.TokenStart[child]; t < v.TokenStart[child + 1]; t++)
                            mask[v.TokenIds[t] >> 5] |= 1u << (v.TokenIds[t] & 31);
                    }
                }
                if (v.ChildStart[child] < v.ChildStart[child + 1]) stack.Push((child, next));
            }
        }
        return mask;
    }
}
