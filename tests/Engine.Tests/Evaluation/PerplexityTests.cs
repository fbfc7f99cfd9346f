using System.Text.Json;
using InferenceServer.Engine.Evaluation;
using InferenceServer.Engine.Tests.Models;
using InferenceServer.TestSupport;

namespace InferenceServer.Engine.Tests.Evaluation;

public sealed class PerplexityTests(TinyLlamaFixture f) : IClassFixture<TinyLlamaFixture>
{
    /// <summary>The shared protocol on sentencepiece's reference token stream: 54.29 ± 0.05 in fp32.</summary>
    [Fact]
    public void TinyLlamaFp32MatchesReferenceOnReferenceTokens()
    {
        var stream = LoadReferenceStream();
        var result = Perplexity.Evaluate(f.Model, stream);
        Assert.Equal(12_288, result.Tokens);
        Assert.InRange(result.Perplexity, 54.24, 54.34);
    }

    internal static List<int> LoadReferenceStream()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoPaths.TinyLlama, "eval_token_ids.json")));
        return doc.RootElement.GetProperty("lines").EnumerateArray()
            .SelectMany(l => l.EnumerateArray().Select(x => x.GetInt32())).ToList();
    }
}
