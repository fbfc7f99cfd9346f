using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using InferenceServer.Tokenization.Templates;
using InferenceServer.TestSupport;

namespace InferenceServer.Tokenization.Tests.Templates;

public class ChatTemplateApiTests
{
    private static IReadOnlyDictionary<string, object?> Msg(string role, string content) =>
        new Dictionary<string, object?> { ["role"] = role, ["content"] = content };

    [Fact]
    public void TinyLlamaTemplateRenders()
    {
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoPaths.TinyLlama, "tokenizer_config.json")));
        var template = ChatTemplate.Parse(config.RootElement.GetProperty("chat_template").GetString()!);
        var messages = new[] { Msg("system", "Be brief."), Msg("user", " Hi "), Msg("assistant", "Hello."), Msg("user", "Bye") };

        // Expected output from jinja2 3.1.6 configured as transformers does.
        Assert.Equal("<s>[INST] Be brief.\n\nHi [/INST] Hello.</s>[INST] Bye [/INST]", template.RenderChat(messages, true, "<s>", "</s>"));
    }

    [Theory]
    [InlineData("{% if x %}\n{{ y }\n{% endif %}", 2, "unexpected '}'")]
    [InlineData("a\nb\n{% for x in y %}", 3, "Unexpected end of template. Jinja was looking for the following tags: 'endfor' or 'else'. The innermost block that needs to be closed is 'for'.")]
    [InlineData("{{ 1 | nofilter }}", 1, "No filter named 'nofilter'.")]
    [InlineData("{% endfor %}", 1, "Encountered unknown tag 'endfor'.")]
    [InlineData("line\n{{ x is nosuchtest }}", 2, "No test named 'nosuchtest'.")]
    [InlineData("{% if true %}\n\n{% endfor %}", 3, "Encountered unknown tag 'endfor'. Jinja was looking for the following tags: 'elif' or 'else' or 'endif'. The innermost block that needs to be closed is 'if'.")]
    [InlineData("{{ 'unterminated }}", 1, "unexpected end of string literal")]
    [InlineData("{% break %}", 1, "Encountered unknown tag 'break'.")]
    public void SyntaxErrorsNameTheLine(string source, int line, string detail)
    {
        var ex = Assert.Throws<TemplateSyntaxException>(() => ChatTemplate.Parse(source));
        Assert.Equal(line, ex.Line);
        Assert.Equal(detail, ex.Detail);
        Assert.Equal($"{detail} (line {line})", ex.Message);
    }

    [Fact]
    public void RaiseExceptionKeepsTheTemplatesMessageAndLine()
    {
        var template = ChatTemplate.Parse("a\n{% if messages[0].role == 'system' %}\n  {{ raise_exception('System role not supported') }}\n{% endif %}");
        var ex = Assert.Throws<TemplateRuntimeException>(() => template.RenderChat([Msg("system", "x")], false, null, null));
        Assert.Equal("System role not supported", ex.Message);
        Assert.Equal(TemplateErrorKind.Raised, ex.Kind);
        Assert.Equal(3, ex.Line);
    }

    [Fact]
    public void RenderChatPassesTransformersVariables()
    {
        var template = ChatTemplate.Parse(
            "{{ bos_token }}|{{ eos_token is defined }}|{{ tools is none }}|{{ documents is none }}|{{ add_generation_prompt }}|{{ messages | length }}|{{ date_string }}");
        var extra = new Dictionary<string, object?> { ["date_string"] = "26 Jul 2024" };
        Assert.Equal("<s>|False|True|True|True|1|26 Jul 2024", template.RenderChat([Msg("user", "hi")], true, "<s>", null, extra));
    }

    [Fact]
    public void JsonMessagesConvertLikePythonJsonLoads()
    {
        using var doc = JsonDocument.Parse("""[{"role":"user","content":"hi","n":1,"f":1.0,"e":1e2,"ok":true,"none":null,"tool_calls":[{"z":1,"a":2}]}]""");
        var messages = TemplateValues.MessagesFromJson(doc.RootElement);
        var m = messages[0];
        Assert.IsType<long>(m["n"]);
        Assert.IsType<double>(m["f"]);
        Assert.IsType<double>(m["e"]);
        Assert.Null(m["none"]);
        var template = ChatTemplate.Parse("{{ messages[0].n }} {{ messages[0].f }} {{ messages[0].e }} {{ messages[0].tool_calls | tojson }} {{ messages[0].none }}");
        Assert.Equal("1 1.0 100.0 [{\"z\": 1, \"a\": 2}] None", template.RenderChat(messages, false, null, null));

        var node = JsonNode.Parse("""{"a":[1,"x",{"b":false}]}""");
        Assert.Equal("{'a': [1, 'x', {'b': False}]}", ChatTemplate.Parse("{{ v }}").Render(new Dictionary<string, object?> { ["v"] = TemplateValues.FromJson(node) }));
    }

    [Fact]
    public void ClrValuesAreNormalized()
    {
        var context = new Dictionary<string, object?>
        {
            ["i"] = 3,
            ["f"] = 1.5f,
            ["arr"] = new[] { "a", "b" },
            ["dict"] = new Dictionary<string, int> { ["k"] = 1 },
            ["json"] = JsonDocument.Parse("{\"x\": [1]}").RootElement,
        };
        var output = ChatTemplate.Parse("{{ i + 1 }} {{ f }} {{ arr | join(',') }} {{ dict.k }} {{ json.x[0] }}").Render(context);
        Assert.Equal("4 1.5 a,b 1 1", output);

        var already = new List<object?> { "a", 1L };
        Assert.Same(already, TemplateValues.Normalize(already));
    }

    [Fact]
    public void StrftimeNowUsesTheGivenClock()
    {
        var clock = new FixedClock(new DateTimeOffset(2024, 7, 26, 9, 5, 3, TimeSpan.Zero));
        var output = ChatTemplate.Parse("{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%A %B %-d, %H:%M:%S %p') }}").Render(new Dictionary<string, object?>(), clock);
        Assert.Equal("26 Jul 2024|Friday July 26, 09:05:03 AM", output);
    }

    [Fact]
    public void OneParsedTemplateRendersConcurrentlyAndFast()
    {
        var template = ChatTemplate.Parse(File.ReadAllText(RepoPaths.Fixture("chat-templates", "llama-3.1-8b-instruct.jinja")));
        var messages = new[] { Msg("system", "Be brief."), Msg("user", "Hi"), Msg("assistant", "Hello."), Msg("user", "Bye") };
        var expected = template.RenderChat(messages, true, "<|begin_of_text|>", "<|eot_id|>");

        var results = new string[64];
        Parallel.For(0, results.Length, i => results[i] = template.RenderChat(messages, true, "<|begin_of_text|>", "<|eot_id|>"));
        Assert.All(results, r => Assert.Equal(expected, r));

        var sw = Stopwatch.StartNew();
        for (var i = 0; i < 1000; i++) template.RenderChat(messages, true, "<|begin_of_text|>", "<|eot_id|>");
        sw.Stop();

        // Generous bound (shared CI machines); a render takes microseconds.
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"1000 renders took {sw.Elapsed}");
    }

    [Fact]
    public void RunawayMacroRecursionFailsCleanly()
    {
        var template = ChatTemplate.Parse("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
        var ex = Assert.Throws<TemplateRuntimeException>(() => template.Render(new Dictionary<string, object?>()));
        Assert.StartsWith("maximum recursion depth exceeded", ex.Message);
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;

        public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;
    }
}
