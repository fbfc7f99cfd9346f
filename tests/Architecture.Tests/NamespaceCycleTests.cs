namespace InferenceServer.Architecture.Tests;

public class NamespaceCycleTests
{
    const string OwnPrefix = "InferenceServer.";

    [Theory]
    [InlineData("InferenceServer.Tokenization")]
    [InlineData("InferenceServer.Engine")]
    [InlineData("InferenceServer.Quant")]
    [InlineData("InferenceServer.StructuredOutputs")]
    [InlineData("InferenceServer")]
    public void Assembly_has_no_namespace_cycle(string assemblyName)
    {
        var graph = GraphOf(AssemblyPath(assemblyName));
        var cycles = graph.Cycles();
        if (cycles.Count > 0)
            Assert.Fail($"{assemblyName} has {cycles.Count} namespace cycle(s):\n\n" + string.Join("\n", cycles.Select(graph.Describe)));
    }

    /// <summary>Namespace graph of one assembly's own types. The reader already drops other assemblies' types; the
    /// prefix check also drops the global namespace (Program, &lt;Module&gt;, &lt;PrivateImplementationDetails&gt;,
    /// anonymous types) and anything not ours, such as code generated into a vendor namespace.</summary>
    internal static NamespaceGraph GraphOf(string assemblyPath)
    {
        var graph = new NamespaceGraph();
        foreach (var (from, to) in IlReferenceReader.Read(assemblyPath))
            if (from.Namespace.StartsWith(OwnPrefix, StringComparison.Ordinal) && to.Namespace.StartsWith(OwnPrefix, StringComparison.Ordinal))
                graph.AddEdge(from.Namespace, to.Namespace, $"{from} -> {to}");
        return graph;
    }

    /// <summary>The project references copy every assembly under test next to this one; reading the file, not
    /// loading it, keeps the server's web-host dependencies out of the test process.</summary>
    static string AssemblyPath(string assemblyName)
    {
        var path = Path.Combine(AppContext.BaseDirectory, assemblyName + ".dll");
        Assert.True(File.Exists(path), $"{path} not found: is the project still referenced by Architecture.Tests.csproj?");
        return path;
    }
}
