using System.Text;

namespace InferenceServer.Architecture.Tests;

/// <summary>Directed graph of namespaces, each edge remembering a few of the type references that create it, so a
/// reported cycle says which references to move. A parent and a child namespace are distinct nodes.</summary>
public sealed class NamespaceGraph
{
    const int ExamplesPerEdge = 3;

    sealed class Edge
    {
        public readonly HashSet<string> Pairs = new(StringComparer.Ordinal);
        public readonly List<string> Examples = [];
    }

    readonly SortedDictionary<string, SortedDictionary<string, Edge>> edges = new(StringComparer.Ordinal);

    public IEnumerable<string> Nodes => edges.Keys;

    public void AddEdge(string from, string to, string example)
    {
        if (from == to) return; // a namespace using its own types is no cycle
        Node(to);
        var targets = Node(from);
        if (!targets.TryGetValue(to, out var edge)) targets[to] = edge = new Edge();
        if (edge.Pairs.Add(example) && edge.Examples.Count < ExamplesPerEdge) edge.Examples.Add(example);
    }

    SortedDictionary<string, Edge> Node(string name)
    {
        if (!edges.TryGetValue(name, out var targets)) edges[name] = targets = new(StringComparer.Ordinal);
        return targets;
    }

    /// <summary>Strongly connected components by Tarjan's algorithm; every namespace is in exactly one.</summary>
    public IReadOnlyList<IReadOnlyList<string>> StronglyConnectedComponents()
    {
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var low = new Dictionary<string, int>(StringComparer.Ordinal);
        var stack = new Stack<string>();
        var onStack = new HashSet<string>(StringComparer.Ordinal);
        var components = new List<IReadOnlyList<string>>();

        void Visit(string v)
        {
            index[v] = low[v] = index.Count;
            stack.Push(v);
            onStack.Add(v);
            foreach (var w in edges[v].Keys)
            {
                if (!index.ContainsKey(w)) { Visit(w); low[v] = Math.Min(low[v], low[w]); }
                else if (onStack.Contains(w)) low[v] = Math.Min(low[v], index[w]);
            }
            if (low[v] != index[v]) return;
            var component = new List<string>();
            string popped;
            do { popped = stack.Pop(); onStack.Remove(popped); component.Add(popped); } while (popped != v);
            component.Sort(StringComparer.Ordinal);
            components.Add(component);
        }

        foreach (var node in edges.Keys) if (!index.ContainsKey(node)) Visit(node);
        return components;
    }

    /// <summary>Components of more than one namespace: each holds at least one cycle.</summary>
    public IReadOnlyList<IReadOnlyList<string>> Cycles() =>
        [.. StronglyConnectedComponents().Where(c => c.Count > 1).OrderBy(c => c[0], StringComparer.Ordinal)];

    /// <summary>One cycle's namespaces, a shortest loop through its first one for orientation, then every edge
    /// inside the component with example references: breaking any one loop may leave others, so all are listed.</summary>
    public string Describe(IReadOnlyList<string> component)
    {
        var members = component.ToHashSet(StringComparer.Ordinal);
        var text = new StringBuilder();
        text.AppendLine($"Cycle among {component.Count} namespaces: {string.Join(", ", component)}");
        text.AppendLine($"  e.g. {string.Join(" -> ", ShortestLoop(component[0], members))}");
        foreach (var from in component)
            foreach (var (to, edge) in edges[from].Where(e => members.Contains(e.Key)))
            {
                text.AppendLine($"  {from} -> {to} ({edge.Pairs.Count} type reference(s)), e.g.:");
                foreach (var example in edge.Examples) text.AppendLine($"      {example}");
            }
        return text.ToString();
    }

    /// <summary>Breadth-first from start back to itself within the component.</summary>
    List<string> ShortestLoop(string start, HashSet<string> members)
    {
        var previous = new Dictionary<string, string>(StringComparer.Ordinal);
        var queue = new Queue<string>([start]);
        while (queue.Count > 0)
        {
            var node = queue.Dequeue();
            foreach (var next in edges[node].Keys.Where(members.Contains))
            {
                if (next == start)
                {
                    var path = new List<string> { start };
                    for (var at = node; at != start; at = previous[at]) path.Add(at);
                    path.Add(start);
                    path.Reverse();
                    return path;
                }
                if (previous.TryAdd(next, node)) queue.Enqueue(next);
            }
        }
        return [start]; // unreachable for a real component of two or more
    }
}
