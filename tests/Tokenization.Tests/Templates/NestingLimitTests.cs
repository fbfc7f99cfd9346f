using InferenceServer.Tokenization.Templates;

namespace InferenceServer.Tokenization.Tests.Templates;

/// <summary>
/// A hostile template or deeply nested values end in a clean template error, never a stack overflow (which would end
/// the process). Every case runs on a thread with a 512 KiB stack, a third of a thread-pool thread's, so the guard
/// is shown to hold where the stack is short, not only where it happens to be deep enough.
/// </summary>
public class NestingLimitTests
{
    private static T OnSmallStack<T>(Func<T> body)
    {
        T result = default!;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try { result = body(); }
            catch (Exception e) { error = e; }
        }, 512 * 1024);
        thread.Start();
        thread.Join();
        if (error is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
        return result;
    }

    private static string Render(string source, IReadOnlyDictionary<string, object?>? context = null) =>
        OnSmallStack(() => ChatTemplate.Parse(source).Render(context ?? new Dictionary<string, object?>()));

    [Theory]
    [InlineData(20_000)]
    [InlineData(129)]
    public void Nested_parentheses_past_the_limit_are_a_syntax_error(int depth)
    {
        var source = "{{ " + new string('(', depth) + "1" + new string(')', depth) + " }}";
        var e = Assert.Throws<TemplateSyntaxException>(() => Render(source));
        Assert.Contains("nests blocks and expressions more than 128 deep", e.Message);
    }

    [Fact]
    public void Nesting_within_the_limit_still_renders()
    {
        Assert.Equal("1", Render("{{ " + new string('(', 100) + "1" + new string(')', 100) + " }}"));
        Assert.Equal("[[[[[[[[[[1]]]]]]]]]]", Render("{{ " + new string('[', 10) + "1" + new string(']', 10) + " | tojson | replace(' ', '') }}"));
    }

    [Fact]
    public void Deeply_nested_blocks_are_a_syntax_error()
    {
        var source = string.Concat(Enumerable.Repeat("{% if true %}", 5_000)) + "x" + string.Concat(Enumerable.Repeat("{% endif %}", 5_000));
        var e = Assert.Throws<TemplateSyntaxException>(() => Render(source));
        Assert.Contains("more than 128 deep", e.Message);
    }

    [Fact]
    public void A_long_chain_of_unary_operators_is_a_syntax_error()
    {
        var e = Assert.Throws<TemplateSyntaxException>(() => Render("{{ " + string.Concat(Enumerable.Repeat("- ", 50_000)) + "1 }}"));
        Assert.Contains("more than 128 deep", e.Message);
    }

    [Fact]
    public void Deeply_nested_lists_and_dicts_in_brackets_are_a_syntax_error() =>
        Assert.Throws<TemplateSyntaxException>(() => Render("{{ " + string.Concat(Enumerable.Repeat("{'a': [", 3_000)) + "1" + string.Concat(Enumerable.Repeat("]}", 3_000)) + " }}"));

    [Fact]
    public void A_value_nested_by_the_template_itself_fails_cleanly_in_tojson_and_repr()
    {
        const string build = "{% set ns = namespace(x=[]) %}{% for i in range(5000) %}{% set ns.x = [ns.x] %}{% endfor %}";
        var json = Assert.Throws<TemplateRuntimeException>(() => Render(build + "{{ ns.x | tojson }}"));
        Assert.Equal("maximum recursion depth exceeded while encoding a JSON object (values nested more than 256 deep)", json.Message);
        var repr = Assert.Throws<TemplateRuntimeException>(() => Render(build + "{{ ns.x }}"));
        Assert.StartsWith("maximum recursion depth exceeded while getting the repr of an object", repr.Message);
    }

    [Fact]
    public void Deeply_nested_message_content_fails_cleanly()
    {
        object? content = "innermost";
        for (int i = 0; i < 10_000; i++) content = new List<object?> { content };
        var messages = new List<object?> { new Dictionary<string, object?> { ["role"] = "user", ["content"] = content } };
        var e = Assert.Throws<TemplateRuntimeException>(() =>
            Render("{% for m in messages %}{{ m.content | tojson }}{% endfor %}", new Dictionary<string, object?> { ["messages"] = messages }));
        Assert.StartsWith("maximum recursion depth exceeded", e.Message);
    }

    [Fact]
    public void Runaway_macro_recursion_fails_cleanly_on_a_small_stack()
    {
        var e = Assert.Throws<TemplateRuntimeException>(() => Render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"));
        Assert.StartsWith("maximum recursion depth exceeded", e.Message);
    }
}
