namespace InferenceServer.StructuredOutputs;

/// <summary>
/// The subset construction of an <see cref="Nfa"/>, done on demand: a DFA state is an ε-closed set of NFA states,
/// created the first time a byte leads to it, with its 256 transitions filled in one pass. States that cannot reach
/// acceptance (by single-token bytes) are treated as dead, so every live state can still finish. Not thread-safe.
/// </summary>
internal sealed class LazyDfa
{
    public const int Dead = -1;
    private const int Unknown = -2;

    private readonly Nfa _nfa;
    private readonly int[] _nfaDistance;
    private readonly List<int[]> _sets = [];
    private readonly List<int[]?> _rows = [];
    private readonly List<int> _distance = [];
    private readonly List<bool> _accepting = [];
    private readonly Dictionary<string, int> _index = [];

    /// <param name="singleByteTokens">Bytes that are a whole token: the distances to acceptance count those.</param>
    public LazyDfa(Nfa nfa, bool[] singleByteTokens)
    {
        _nfa = nfa;
        _nfaDistance = nfa.DistancesToAccept(singleByteTokens);
        Start = Intern(Closure([nfa.Start]));
    }

    /// <summary>The start state, or <see cref="Dead"/> when the language is empty.</summary>
    public int Start { get; }

    public int StateCount => _sets.Count;

    public bool IsAccepting(int state) => _accepting[state];

    /// <summary>Fewest single-byte tokens that take <paramref name="state"/> to acceptance.</summary>
    public int Distance(int state) => _distance[state];

    /// <summary>The state after <paramref name="b"/>, or <see cref="Dead"/>.</summary>
    public int Next(int state, byte b)
    {
        var row = _rows[state] ??= BuildRow(state);
        return row[b];
    }

    private int[] BuildRow(int state)
    {
        var buckets = new HashSet<int>?[256];
        foreach (var s in _sets[state])
            foreach (var e in _nfa.Edges(s))
                for (int b = e.Lo; b <= e.Hi; b++)
                    (buckets[b] ??= []).Add(e.To);
        var row = new int[256];
        var seen = new Dictionary<string, int>();
        for (int b = 0; b < 256; b++)
        {
            if (buckets[b] is not { } targets) { row[b] = Dead; continue; }
            var key = string.Join(',', targets.Order());
            if (!seen.TryGetValue(key, out var next))
                seen[key] = next = Intern(Closure(targets));
            row[b] = next;
        }
        return row;
    }

    private int[] Closure(IEnumerable<int> seeds)
    {
        var set = new HashSet<int>();
        var stack = new Stack<int>(seeds);
        while (stack.Count > 0)
        {
            int s = stack.Pop();
            if (!set.Add(s)) continue;
            foreach (var t in _nfa.Epsilons(s)) stack.Push(t);
        }
        // Only states that still lead somewhere matter; dropping the rest makes equal futures share a DFA state.
        return [.. set.Where(s => _nfaDistance[s] != int.MaxValue && (_nfa.Edges(s).Count > 0 || s == _nfa.Accept)).Order()];
    }

    private int Intern(int[] set)
    {
        if (set.Length == 0) return Dead;
        var key = string.Join(',', set);
        if (_index.TryGetValue(key, out var id)) return id;
        id = _sets.Count;
        _sets.Add(set);
        _rows.Add(null);
        _distance.Add(set.Min(s => _nfaDistance[s]));
        _accepting.Add(set.Contains(_nfa.Accept));
        _index[key] = id;
        return id;
    }
}
