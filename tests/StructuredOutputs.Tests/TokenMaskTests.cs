using System.Text.Json;

namespace InferenceServer.StructuredOutputs.Tests;

/// <summary>Which tokens the mask allows, for tokens that span several JSON tokens or cut one in half.</summary>
public sealed class TokenMaskTests
{
    // Ids 256.. in order: multi-token pieces a BPE vocabulary really has.
    private static readonly string[] Pieces = ["{\"", "\":", "\":\"", "\"}", "\"},{\"", "},{", "1e", "e+", ".5e-", "\\u00", "\\\"", "ab\"", "\"x", "[{\"", "}]", "redd", "red\"", "null}", "tru", ",\""];
    private static readonly TokenVocabulary Vocabulary = TestVocabularies.BytesPlus(Pieces);
    private static readonly StructuredOutputCompiler Compiler = new(Vocabulary);

    private static int Id(string piece) => piece.Length == 1 && piece[0] < 128 ? piece[0] : 256 + Array.IndexOf(Pieces, piece);

    private static GrammarMatcher At(TokenGrammar g, params string[] tokens)
    {
        var m = g.NewMatcher();
        foreach (var t in tokens)
            Assert.True(m.TryAdvance(Id(t)), $"token '{t}' refused");
        return m;
    }

    private static readonly TokenGrammar Records = Compiler.JsonSchema(JsonDocument.Parse("""
        {"type":"array","items":{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"number"}},"required":["a","b"],"additionalProperties":false}}
        """).RootElement);

    [Fact]
    public void TokensCrossingKeyValueAndObjectBoundaries()
    {
        var m = At(Records, "[{\"", "a", "\":\"");               // [{"a":"
        Assert.True(m.IsAllowed(Id("ab\"")));                   // string content and its closing quote in one token
        Assert.True(m.IsAllowed(Id("\\u00")));                   // half of a \u escape
        Assert.True(m.IsAllowed(Id("\\\"")));                    // an escaped quote
        Assert.False(m.IsAllowed(Id("\"}")));                    // closing the object would skip required "b"
        Assert.False(m.IsAllowed(Id("\"x")));                    // a quote then more text is not JSON
        m = At(Records, "[{\"", "a", "\":\"", "ab\"", ",\"", "b", "\":");   // [{"a":"ab","b":
        Assert.True(m.IsAllowed(Id("1e")));                      // a number cut inside its exponent
        Assert.False(m.IsAllowed(Id("e+")));                     // an exponent needs digits before it
        m = At(Records, "[{\"", "a", "\":\"", "ab\"", ",\"", "b", "\":", "2");
        Assert.True(m.IsAllowed(Id(".5e-")));
        Assert.True(m.IsAllowed(Id("},{")));                     // end of one item, start of the next
        Assert.True(m.IsAllowed(Id("}]")));                      // end of the item and of the array
        Assert.False(m.IsAllowed(Id("\"},{\"")));
        m = At(Records, "[{\"", "a", "\":\"", "ab\"", ",\"", "b", "\":", "1e", "+", "5", "}]");
        Assert.True(m.CanEnd);
        Assert.True(m.IsFinished);
        Assert.False(m.TryAdvance(Id(",")));
    }

    [Fact]
    public void EnumTokensMayStopInsideASharedPrefix()
    {
        var g = Compiler.JsonSchema(JsonDocument.Parse("""{"enum":["red","redder","reddest"]}""").RootElement);
        var m = At(g, "\"");
        Assert.True(m.IsAllowed(Id("red\"")));
        Assert.True(m.IsAllowed(Id("redd")));
        Assert.False(m.CanEnd);
        m.TryAdvance(Id("redd"));
        Assert.False(m.IsAllowed(Id("red\"")));
        Assert.True(m.IsAllowed('e'));
        Assert.False(m.IsAllowed('"'));                          // "redd" is not a value
    }

    [Fact]
    public void MaskBitsMatchIsAllowedAndSpecialTokensAreNeverSet()
    {
        var bytes = Enumerable.Range(0, 256).Select(b => (byte[]?)[(byte)b]).Append(null).Append([]).ToList();
        var vocabulary = new TokenVocabulary(bytes);                // ids 256 (special) and 257 (empty) have no bytes
        var g = new StructuredOutputCompiler(vocabulary).JsonObject();
        var m = g.NewMatcher();
        var mask = new uint[vocabulary.MaskWords];
        m.WriteAllowed(mask);
        for (int id = 0; id < vocabulary.Size; id++)
            Assert.Equal(id == '{', (mask[id >> 5] & (1u << (id & 31))) != 0);
        Assert.False(m.TryAdvance(256));
        Assert.False(m.TryAdvance(257));
    }

    [Fact]
    public void TightBudgetAllowsOnlyTokensThatCanStillFinish()
    {
        var m = At(Records, "[{\"", "a", "\":\"");                // needs  " , " b " : digit } ]  = 9 single bytes
        Assert.Equal(9, m.TokensToComplete);
        var mask = new uint[Vocabulary.MaskWords];
        m.WriteAllowed(mask, remainingTokens: 10);                 // this token and 8 more, then EOS: exactly enough
        bool Allowed(int id) => (mask[id >> 5] & (1u << (id & 31))) != 0;
        Assert.True(Allowed('"'));
        Assert.True(Allowed(Id("ab\"")));                          // also closes the string
        Assert.False(Allowed('x'));                                // more content would overrun
        m.WriteAllowed(mask, remainingTokens: 100);
        Assert.True(Allowed('x'));
    }
}
