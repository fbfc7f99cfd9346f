using System.Collections.Immutable;
using InferenceServer.Analyzers;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;

namespace InferenceServer.Architecture.Tests.Analyzers;

/// <summary>
/// The analyzer against code compiled with the real TorchSharp.dll: each line of the sample ends in the diagnostic it
/// must draw (// IS0001, // IS0002) or in // ok, where it must draw none.
/// </summary>
public class TorchSharpTemporariesAnalyzerTests
{
    private const string Sample = """
        using TorchSharp;
        using static TorchSharp.torch;
        class Sample
        {
            static readonly Scalar Two = 2.0.ToScalar();                                                  // ok
            Scalar _held = 3.0;                                                                           // ok
            Tensor ImplicitScalar(Tensor t) => t.mul(2.0);                                                // IS0001
            Tensor ExplicitTemporary(Tensor t) => t.mul(2.0.ToScalar());                                  // IS0001
            Tensor UsingLocal(Tensor t) { using var s = 2.0.ToScalar(); return t.mul(s); }                // ok
            Tensor PlainLocal(Tensor t) { var s = 2.0.ToScalar(); return t.mul(s); }                      // IS0001
            Tensor Field(Tensor t) => t.mul(Two);                                                         // ok
            void Assigned() => _held = 4.0.ToScalar();                                                    // ok
            Tensor TensorFromNumber(Tensor t) => t.bitwise_and(1);                                        // IS0001
            Tensor Arange(int n) => arange(n, ScalarType.Int64, CPU);                                     // IS0001
            Tensor AddTensors(Tensor a, Tensor b) => a + b;                                               // IS0002
            Tensor AddNumber(Tensor a) => a * 2.0;                                                        // IS0002
            Tensor NumberMinusTensor(Tensor a) => 1.0 - a;                                                // IS0002
            Tensor ScalarMinusTensor(Tensor a) => Two - a;                                                // IS0002
            Tensor SubTensors(Tensor a, Tensor b) => a - b;                                               // ok
            Tensor MulTensors(Tensor a, Tensor b) => a * b;                                               // ok
            Tensor DivByKept(Tensor a) => a / Two;                                                        // ok
            Tensor AddWithAlpha(Tensor a, Tensor b) => a.add(b, Two);                                     // ok
            Tensor AddWithoutAlpha(Tensor a, Tensor b) => a.add(b);                                       // IS0002
            Tensor AddScalarInPlace(Tensor a) => a.add_(Two);                                             // IS0002
            Tensor StaticAdd(Tensor a, Tensor b) => torch.add(a, b);                                      // IS0002
            void CompoundAdd(Tensor a, Tensor b) { a += b; }                                              // IS0002
            float ReadThroughScalar(Tensor a) => a.ToSingle();                                            // IS0002
            float ReadItem(Tensor a) => a.item<float>();                                                  // ok
        }
        """;

    [Fact]
    public async Task FlagsExactlyTheTemporaries()
    {
        var found = (await Diagnose(Sample)).Select(d => (Line: d.Location.GetLineSpan().StartLinePosition.Line, d.Id)).ToList();
        var lines = Sample.Split('\n');
        var expected = lines.Select((text, i) => (Line: i, Id: text.TrimEnd().EndsWith("// IS0001") ? "IS0001" : text.TrimEnd().EndsWith("// IS0002") ? "IS0002" : null))
            .Where(e => e.Id is not null).Select(e => (e.Line, e.Id!)).ToList();
        Assert.True(lines.Count(l => l.TrimEnd().EndsWith("// ok")) >= 10, "the sample lost its clean lines");
        Assert.Equal(expected.Order(), found.Order());
    }

    [Fact]
    public async Task ProjectsWithoutTorchSharpAreLeftAlone()
    {
        Assert.Empty(await Diagnose("class Plain { int Twice(int x) => x + x; }", withTorchSharp: false));
    }

    private static async Task<ImmutableArray<Diagnostic>> Diagnose(string source, bool withTorchSharp = true)
    {
        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Select(p => MetadataReference.CreateFromFile(p)).ToList<MetadataReference>();
        var torchSharp = Path.Combine(AppContext.BaseDirectory, "TorchSharp.dll");
        Assert.True(File.Exists(torchSharp), $"{torchSharp} not found: Architecture.Tests references src/Engine, which brings it");
        if (withTorchSharp) references.Add(MetadataReference.CreateFromFile(torchSharp));
        var compilation = CSharpCompilation.Create("Sample", [CSharpSyntaxTree.ParseText(source)], references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Disable));
        var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.True(errors.Count == 0, "the sample does not compile: " + string.Join("; ", errors));
        return await compilation.WithAnalyzers([new TorchSharpTemporariesAnalyzer()]).GetAnalyzerDiagnosticsAsync(TestContext.Current.CancellationToken);
    }
}
