namespace InferenceServer.StructuredOutputs;

/// <summary>
/// A Thompson NFA over bytes: each state has byte-range edges and ε-edges. Grammar nodes build fragments into it
/// (<see cref="Fragment"/>); the finished automaton has one start and one accepting state.
/// </summary>
internal sealed class Nfa
{
    private readonly List<List<ByteEdge>> _edges = [];
    private readonly List<List<int>> _epsilons = [];

    /// <summary>Largest number of states one grammar may build (a bound on memory and compile time).</summary>
    public const int MaxStates = 2_000_000;

    public int Count => _edges.Count;

    public int Start { get; set; }

    public int Accept { get; set; }

    public int NewState()
    {
        if (_edges.Count >= MaxStates)
            throw new GrammarException($"the constraint compiles to more than {MaxStates} automaton states; simplify it");
        _edges.Add([]);
        _epsilons.Add([]);
        return _edges.Count - 1;
    }

    public void AddEdge(int from, byte lo, byte hi, int to) => _edges[from].Add(new ByteEdge(lo, hi, to));

    public void AddEpsilon(int from, int to) => _epsilons[from].Add(to);

    public IReadOnlyList<ByteEdge> Edges(int state) => _edges[state];

    public IReadOnlyList<int> Epsilons(int state) => _epsilons[state];

    /// <summary>
    /// Fewest bytes from each state to the accepting state, using only bytes for which <paramref name="usable"/> is
    /// true (bytes that are single tokens); <see cref="int.MaxValue"/> where acceptance cannot be reached. A 0-1 BFS
    /// backwards from the accepting state: ε-edges cost 0, byte edges 1.
    /// </summary>
    public int[] DistancesToAccept(bool[] usable)
    {
        var reverse = new List<(int From, int Cost)>[Count];
        for (int s = 0; s < Count; s++) reverse[s] = [];
        for (int s = 0; s < Count; s++)
        {
            foreach (var t in _epsilons[s]) reverse[t].Add((s, 0));
            foreach (var e in _edges[s])
                if (AnyUsable(usable, e)) reverse[e.To].Add((s, 1));
        }
        var dist = new int[Count];
        Array.Fill(dist, int.MaxValue);
        var deque = new LinkedList<int>();
        dist[Accept] = 0;
        deque.AddFirst(Accept);
        while (deque.First is { } node)
        {
            deque.RemoveFirst();
            int s = node.Value;
            foreach (var (from, cost) in reverse[s])
            {
                int d = dist[s] + cost;
                if (d >= dist[from]) continue;
                dist[from] = d;
                if (cost == 0) deque.AddFirst(from); else deque.AddLast(from);
            }
        }
        return dist;
    }

    private static bool AnyUsable(bool[] usable, ByteEdge e)
    {
        for (int b = e.Lo; b <= e.Hi; b++)
            if (usable[b]) return true;
        return false;
    }
}

/// <summary>An NFA edge taken on any byte in [Lo, Hi].</summary>
internal readonly record struct ByteEdge(byte Lo, byte Hi, int To);

/// <summary>A piece of NFA with one entry and one exit state.</summary>
internal readonly record struct Fragment(int Start, int End);
