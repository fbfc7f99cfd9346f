using System.Text.Json;

namespace InferenceServer.StructuredOutputs.Tests;

/// <summary>The compiled languages on whole strings: what a schema, regex or choice accepts and rejects.</summary>
public sealed class AutomatonTests
{
    private static readonly StructuredOutputCompiler Compiler = new(TestVocabularies.BytesPlus());

    private static TokenGrammar Schema(string json) => Compiler.JsonSchema(JsonDocument.Parse(json).RootElement);

    [Fact]
    public void NestedObjectsKeepPropertyOrderAndRequiredness()
    {
        var g = Schema("""
            {"type":"object","properties":{
              "a":{"type":"object","properties":{"x":{"type":"integer"},"y":{"type":"array","items":{"type":"object","properties":{"z":{"type":"boolean"}},"required":["z"],"additionalProperties":false}}},"required":["x","y"],"additionalProperties":false},
              "b":{"type":"string"}},
             "required":["a"],"additionalProperties":false}
            """);
        Assert.True(g.Matches("""{"a":{"x":1,"y":[]}}"""));
        Assert.True(g.Matches("""{"a":{"x":-20,"y":[{"z":true},{"z":false}]},"b":"hi"}"""));
        Assert.False(g.Matches("""{"b":"hi","a":{"x":1,"y":[]}}"""));            // schema order
        Assert.False(g.Matches("""{"a":{"x":1}}"""));                             // y required
        Assert.False(g.Matches("""{"a":{"x":1,"y":[{"z":true},]}}"""));            // trailing comma
        Assert.False(g.Matches("""{"a":{"x":1,"y":[]},}"""));
        Assert.False(g.Matches("""{"a":{"x":1.5,"y":[]}}"""));                     // integer
        Assert.False(g.Matches("""{"a":{"x":1,"y":[]}"""));                        // not closed
    }

    [Fact]
    public void OptionalPropertiesPlaceCommasOnlyBetweenMembers()
    {
        var g = Schema("""{"type":"object","properties":{"p":{"type":"null"},"q":{"type":"null"},"r":{"type":"null"}}}""");
        foreach (var ok in new[] { "{}", """{"q":null}""", """{"p":null,"r":null}""", """{"p":null,"q":null,"r":null}""" })
            Assert.True(g.Matches(ok), ok);
        foreach (var bad in new[] { """{,"q":null}""", """{"p":null,}""", """{"p":null"q":null}""", """{"q":null,"q":null}""" })
            Assert.False(g.Matches(bad), bad);
    }

    [Theory]
    [InlineData("\"plain\"", true)]
    [InlineData("\"quote \\\" backslash \\\\ slash \\/ controls \\b\\f\\n\\r\\t\"", true)]
    [InlineData("\"unicode \\u00e9\\uD83D\\uDE00 and raw é 😀\"", true)]
    [InlineData("\"bad escape \\x41\"", false)]
    [InlineData("\"short unicode \\u12\"", false)]
    [InlineData("\"raw \n newline\"", false)]
    [InlineData("\"unterminated \\\"", false)]
    public void StringsFollowJsonEscapes(string text, bool valid) =>
        Assert.Equal(valid, Schema("""{"type":"string"}""").Matches(text));

    [Theory]
    [InlineData("0", true)]
    [InlineData("-0.5", true)]
    [InlineData("1e10", true)]
    [InlineData("6.02E+23", true)]
    [InlineData("-1.5e-7", true)]
    [InlineData("01", false)]
    [InlineData("1.", false)]
    [InlineData("1e", false)]
    [InlineData("1e+", false)]
    [InlineData(".5", false)]
    [InlineData("+1", false)]
    public void NumbersAllowFractionsAndExponents(string text, bool valid) =>
        Assert.Equal(valid, Schema("""{"type":"number"}""").Matches(text));

    [Fact]
    public void EnumsSharingPrefixesAcceptOnlyWholeValues()
    {
        var g = Schema("""{"enum":["red","redder","reddest",1,10,null,"r\"q"]}""");
        foreach (var ok in new[] { "\"red\"", "\"redder\"", "\"reddest\"", "1", "10", "null", "\"r\\\"q\"" })
            Assert.True(g.Matches(ok), ok);
        foreach (var bad in new[] { "\"re\"", "\"redd\"", "\"reddestt\"", "100", "\"red", "nul" })
            Assert.False(g.Matches(bad), bad);
    }

    [Fact]
    public void AnyOfRefsAndRecursionUnrollToTheLimit()
    {
        var g = Schema("""
            {"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},"next":{"anyOf":[{"$ref":"#/$defs/node"},{"type":"null"}]}},"required":["v","next"],"additionalProperties":false}},
             "$ref":"#/$defs/node"}
            """);
        Assert.True(g.Matches("""{"v":1,"next":null}"""));
        Assert.True(g.Matches("""{"v":1,"next":{"v":2,"next":{"v":3,"next":null}}}"""));
        Assert.False(g.Matches("""{"v":1,"next":{"v":2}}"""));
        // Past 4 nested expansions of the same $ref only null is left.
        var deep = """{"v":0,"next":{"v":0,"next":{"v":0,"next":{"v":0,"next":{"v":0,"next":null}}}}}""";
        Assert.False(g.Matches(deep));
    }

    [Fact]
    public void JsonObjectModeAcceptsObjectsOnly()
    {
        var g = Compiler.JsonObject();
        Assert.True(g.Matches("""{"a":[1,2.5e3,{"b":null}],"c":"d","e":true}"""));
        Assert.True(g.Matches("{}"));
        Assert.False(g.Matches("[1]"));
        Assert.False(g.Matches("\"s\""));
        Assert.False(g.Matches("{\"a\":1"));
    }

    [Fact]
    public void RegexAndChoiceMatchWholeOutput()
    {
        var r = Compiler.Regex(@"^(\d{3})-[A-Z]{2}(x|yz)?\.?$");
        Assert.True(r.Matches("123-AB"));
        Assert.True(r.Matches("123-ABx."));
        Assert.True(r.Matches("999-ZZyz"));
        Assert.False(r.Matches("12-AB"));
        Assert.False(r.Matches("123-ABx.."));
        Assert.False(r.Matches("123-abx"));
        var neg = Compiler.Regex(@"[^a-c\s]+é");
        Assert.True(neg.Matches("xyzé"));
        Assert.False(neg.Matches("xbzé"));
        var c = Compiler.Choice(["yes", "no", "not sure"]);
        Assert.True(c.Matches("not sure"));
        Assert.False(c.Matches("not"));
        Assert.False(c.Matches("yess"));
    }

    [Fact]
    public void CompiledConstraintsAreCachedPerSchema()
    {
        var compiler = new StructuredOutputCompiler(TestVocabularies.BytesPlus());
        var a = compiler.JsonSchema(JsonDocument.Parse("""{"type":"object","properties":{"k":{"type":"string"}}}""").RootElement);
        var b = compiler.JsonSchema(JsonDocument.Parse("""{ "type": "object", "properties": { "k": { "type": "string" } } }""").RootElement);
        Assert.Same(a, b);
        Assert.NotSame(a, compiler.JsonSchema(JsonDocument.Parse("""{"type":"object","properties":{"k":{"type":"number"}}}""").RootElement));
        Assert.Equal(2, compiler.CachedCount);
    }
}
