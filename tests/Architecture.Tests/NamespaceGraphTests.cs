namespace InferenceServer.Architecture.Tests;

/// <summary>Checks the checker: the SCC finder on hand-made graphs, and the IL reader on fixture namespaces whose
/// cycle exists only through method bodies and fully qualified names.</summary>
public class NamespaceGraphTests
{
    [Fact]
    public void Finds_a_cycle_and_leaves_its_tail_out()
    {
        var graph = new NamespaceGraph();
        graph.AddEdge("A", "B", "A.X -> B.Y");
        graph.AddEdge("B", "C", "B.Y -> C.Z");
        graph.AddEdge("C", "A", "C.Z -> A.X");
        graph.AddEdge("C", "D", "C.Z -> D.W");
        graph.AddEdge("E", "D", "E.V -> D.W");

        var cycle = Assert.Single(graph.Cycles());
        Assert.Equal(["A", "B", "C"], cycle);
        var text = graph.Describe(cycle);
        Assert.Contains("e.g. A -> B -> C -> A", text);
        Assert.Contains("C.Z -> A.X", text);
        Assert.DoesNotContain("D.W", text);
    }

    [Fact]
    public void A_dag_and_self_references_have_no_cycle()
    {
        var graph = new NamespaceGraph();
        graph.AddEdge("A", "B", "A.X -> B.Y");
        graph.AddEdge("A", "C", "A.X -> C.Z");
        graph.AddEdge("B", "C", "B.Y -> C.Z");
        graph.AddEdge("C", "C", "C.Z -> C.Q");

        Assert.Empty(graph.Cycles());
        Assert.Equal(3, graph.StronglyConnectedComponents().Count);
    }

    [Fact]
    public void Two_separate_cycles_are_reported_separately()
    {
        var graph = new NamespaceGraph();
        graph.AddEdge("A", "B", "a");
        graph.AddEdge("B", "A", "b");
        graph.AddEdge("B", "C", "c");
        graph.AddEdge("C", "D", "d");
        graph.AddEdge("D", "C", "e");

        Assert.Equal([["A", "B"], ["C", "D"]], graph.Cycles());
    }

    [Fact]
    public void Reads_a_cycle_made_only_in_method_bodies()
    {
        var graph = NamespaceCycleTests.GraphOf(typeof(NamespaceGraphTests).Assembly.Location);

        const string fixtures = "InferenceServer.Architecture.Tests.Fixtures.";
        var cycle = Assert.Single(graph.Cycles(), c => c[0].StartsWith(fixtures, StringComparison.Ordinal));
        Assert.Equal([fixtures + "Ping", fixtures + "Pong"], cycle);
        var text = graph.Describe(cycle);
        Assert.Contains($"{fixtures}Ping.Pinger -> {fixtures}Pong.Ponger", text);
        Assert.Contains($"{fixtures}Pong.Ponger -> {fixtures}Ping.Pinger", text);
        Assert.Contains(fixtures + "Leaf", graph.Nodes); // read, but not part of the cycle
    }
}
