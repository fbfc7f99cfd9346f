using System.Text;
using System.Text.Json;
using Json.Schema;

namespace InferenceServer.StructuredOutputs.Tests;

/// <summary>
/// Random decoding over tiny-llama's real vocabulary: each step draws uniformly among the tokens the mask allows
/// (and EOS when the output may end), with the token budget the engine passes. Every run must end in EOS with an
/// output that parses and that JsonSchema.Net (an independent validator) accepts against the schema.
/// </summary>
public sealed class BudgetedSamplingTests
{
    private const int Eos = -1;

    public static TheoryData<string> Schemas => new()
    {
        """{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},"tags":{"type":"array","items":{"type":"string"}},"score":{"type":"number"}},"required":["name","age","tags","score"],"additionalProperties":false}""",
        """{"type":"object","properties":{"kind":{"enum":["cat","caterpillar","dog"]},"owner":{"anyOf":[{"type":"null"},{"$ref":"#/$defs/person"}]}},"required":["kind","owner"],"additionalProperties":false,"$defs":{"person":{"type":"object","properties":{"first":{"type":"string"},"ok":{"type":"boolean"}},"required":["first","ok"],"additionalProperties":false}}}""",
        """{"type":"array","items":{"type":"object","properties":{"x":{"type":["number","null"]},"nested":{"type":"object","properties":{"deep":{"type":"array","items":{"type":"integer"}}},"required":["deep"],"additionalProperties":false}},"required":["x","nested"],"additionalProperties":false}}""",
    };

    [Theory]
    [MemberData(nameof(Schemas))]
    public void EveryRunEndsValidWithinItsBudget(string schemaText)
    {
        var grammar = new StructuredOutputCompiler(TestVocabularies.TinyLlama).JsonSchema(JsonDocument.Parse(schemaText).RootElement);
        var schema = JsonSchema.FromText(schemaText);
        for (int seed = 0; seed < 20; seed++)
        {
            int maxTokens = grammar.MinimumTokens + 1 + seed * 3;
            var (text, ended) = Decode(grammar, new Random(seed), maxTokens, eosWeight: 0.05);
            Assert.True(ended, $"seed {seed}: no EOS within {maxTokens} tokens: {text}");
            var result = schema.Evaluate(JsonDocument.Parse(text).RootElement);
            Assert.True(result.IsValid, $"seed {seed}: {text}");
        }
    }

    [Fact]
    public void JsonObjectRunsEndInParseableObjects()
    {
        var grammar = new StructuredOutputCompiler(TestVocabularies.TinyLlama).JsonObject();
        for (int seed = 0; seed < 20; seed++)
        {
            var (text, ended) = Decode(grammar, new Random(seed), 60, eosWeight: 0.05);
            Assert.True(ended, text);
            Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(text).RootElement.ValueKind);
        }
    }

    /// <summary>Draws until EOS or the budget; EOS is one option among the allowed tokens, chosen with probability eosWeight.</summary>
    internal static (string Text, bool Ended) Decode(TokenGrammar grammar, Random random, int maxTokens, double eosWeight)
    {
        var vocabulary = grammar.Vocabulary;
        var matcher = grammar.NewMatcher();
        var mask = new uint[vocabulary.MaskWords];
        var bytes = new List<byte>();
        for (int generated = 0; generated < maxTokens; generated++)
        {
            matcher.WriteAllowed(mask, maxTokens - generated);
            var allowed = Enumerable.Range(0, vocabulary.Size).Where(id => (mask[id >> 5] & (1u << (id & 31))) != 0).ToList();
            int token = matcher.CanEnd && (allowed.Count == 0 || random.NextDouble() < eosWeight) ? Eos
                : allowed.Count == 0 ? throw new InvalidOperationException("nothing allowed and the output cannot end")
                : allowed[random.Next(allowed.Count)];
            if (token == Eos) return (Encoding.UTF8.GetString([.. bytes]), true);
            Assert.True(matcher.TryAdvance(token));
            bytes.AddRange(vocabulary.Bytes(token)!);
        }
        return (Encoding.UTF8.GetString([.. bytes]), false);
    }
}
