using System.Text.Json;

namespace InferenceServer.StructuredOutputs.Tests;

/// <summary>Schemas and regexes outside the supported subset are refused with the keyword named.</summary>
public sealed class SchemaRefusalTests
{
    private static readonly StructuredOutputCompiler Compiler = new(TestVocabularies.BytesPlus());

    [Theory]
    [InlineData("""{"type":"string","pattern":"a+"}""", "pattern")]
    [InlineData("""{"type":"string","format":"date"}""", "format")]
    [InlineData("""{"type":"integer","minimum":3}""", "minimum")]
    [InlineData("""{"type":"array","items":{"type":"string"},"maxItems":2}""", "maxItems")]
    [InlineData("""{"allOf":[{"type":"string"}]}""", "allOf")]
    [InlineData("""{"oneOf":[{"type":"string"}]}""", "oneOf")]
    [InlineData("""{"type":"object","properties":{"a":{"not":{"type":"null"}}}}""", "not")]
    [InlineData("""{"type":"object","patternProperties":{"^a":{}}}""", "patternProperties")]
    [InlineData("""{"$ref":"https://example.com/s.json"}""", "$ref")]
    [InlineData("""{"$ref":"#/$defs/missing"}""", "$ref")]
    [InlineData("""{"type":"date"}""", "type")]
    [InlineData("""{"type":"object","properties":{"a":{}},"required":["b"]}""", "required")]
    public void UnsupportedKeywordIsNamed(string schema, string keyword)
    {
        var e = Assert.Throws<GrammarException>(() => Compiler.JsonSchema(JsonDocument.Parse(schema).RootElement));
        Assert.Equal(keyword, e.Keyword);
        Assert.Contains(keyword, e.Message);
    }

    [Theory]
    [InlineData(@"(a)\1", @"\1")]
    [InlineData(@"a(?=b)", "(?")]
    [InlineData(@"\bword", @"\b")]
    [InlineData(@"a{3,1}", "{n,m}")]
    [InlineData(@"(ab", "regex")]
    [InlineData(@"*a", "regex")]
    public void UnsupportedRegexIsRefused(string pattern, string construct)
    {
        var e = Assert.Throws<GrammarException>(() => Compiler.Regex(pattern));
        Assert.Equal(construct, e.Keyword);
    }

    [Fact]
    public void EmptyLanguageIsRefused() =>
        Assert.Throws<GrammarException>(() => Compiler.JsonSchema(JsonDocument.Parse("""{"enum":[]}""").RootElement));
}
