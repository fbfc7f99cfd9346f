using System.Text.Json;
using CsCheck;
using InferenceServer.TestSupport;
using InferenceServer.Tokenization.Templates;

namespace InferenceServer.Tokenization.Tests.Properties;

/// <summary>
/// Property tests of the chat-template interpreter: random templates built from jinja2 fragments, the fixtures' real
/// templates with random damage, and random message lists through the real templates. Parsing gives a template or
/// <see cref="TemplateSyntaxException"/>; rendering gives text or <see cref="TemplateRuntimeException"/> (the
/// documented errors; ChatPrompt maps the latter to a 400); never another exception and never a hang
/// (<see cref="BoundedCase.Timeout"/>).
/// </summary>
public sealed class ChatTemplateProperties
{
    private static readonly string[] FixtureNames = ["qwen2", "mistral", "llama3-rope", "llama-linear-rope"];

    private static readonly Lazy<string[]> RealTemplates = new(() =>
        FixtureNames.Select(n => TokenizerLoader.Load(RepoPaths.Fixture("hf", n)).Config.ChatTemplate!)
            .Append(TokenizerLoader.Load(RepoPaths.TinyLlama).Config.ChatTemplate!).ToArray());

    private static Gen<string> Pick(params string[] xs) => Gen.Int[0, xs.Length - 1].Select(i => xs[i]);

    private static readonly Gen<string> Exprs = Gen.Recursive<string>((depth, self) => depth >= 3
        ? Pick("messages", "message", "m", "x", "loop.index", "loop", "bos_token", "eos_token", "add_generation_prompt", "tools", "none",
            "true", "0", "1", "-1", "2.5", "1e300", "'a'", "\"b\\n\"", "''", "[]", "{}", "[1, 'x']", "{'role': 'user'}", "range(3)", "ns.v",
            "messages[0]", "messages[-1]['content']", "message.role", "undefined_name", "namespace(v=1)", "raise_exception('no')", "9223372036854775807")
        : Gen.Frequency(
            (4, self),
            (2, Gen.Select(self, Pick(" + ", " - ", " * ", " / ", " // ", " % ", " ** ", " ~ ", " == ", " < ", " and ", " or ", " in ", " not in "), self)
                .Select((a, op, b) => a + op + b)),
            (1, Gen.Select(self, Pick("trim", "length", "upper", "tojson", "string", "int", "list", "first", "last", "join(', ')", "default('d')",
                "replace('a','b')", "indent(2)", "center(9)", "round", "sort", "unique", "items", "map(attribute='role')", "selectattr('role','equalto','user')",
                "batch(2)", "slice(2)", "sum", "abs", "escape", "wordcount", "title", "count", "reverse", "dictsort", "format(1)", "truncate(3)")).Select((e, f) => e + "|" + f)),
            (1, Gen.Select(self, Pick("defined", "none", "string", "number", "mapping", "iterable", "odd", "divisibleby(2)", "equalto(1)")).Select((e, t) => e + " is " + t)),
            (1, self.Select(e => "(" + e + ")")),
            (1, Gen.Select(self, self).Select((a, b) => a + "[" + b + "]")),
            (1, Gen.Select(self, self).Select((a, b) => a + "[" + b + ":]")),
            (1, Gen.Select(self, Pick("strip()", "split(' ')", "startswith('a')", "get('role')", "items()", "keys()", "format(1)", "upper()", "append(1)", "count('a')")).Select((a, m) => a + "." + m)),
            (1, Gen.Select(self, self, self).Select((a, b, c) => a + " if " + b + " else " + c)),
            (1, self.Select(e => "not " + e))));

    private static readonly Gen<string> Nodes = Gen.Recursive<string>((depth, self) =>
    {
        var body = self.List[0, 3].Select(string.Concat);
        var leaf = Gen.Frequency(
            (3, Exprs.Select(e => "{{ " + e + " }}")),
            (2, Pick("text ", "\n", "  ", "<|im_start|>", "[INST] ", "{# c #}", "{%- raw %}{{ x }}{% endraw -%}", "{{- '-' -}}")),
            (1, Exprs.Select(e => "{% set x = " + e + " %}")),
            (1, Exprs.Select(e => "{% set ns.v = " + e + " %}")),
            (1, Pick("{% break %}", "{% continue %}", "{% endif %}", "{% endfor %}", "{% else %}", "{{", "}}", "{%", "%}", "{% if %}", "{{ }}", "{% for %}")));
        return depth >= 3 ? leaf : Gen.Frequency(
            (4, leaf),
            (1, Gen.Select(Exprs, body, body).Select((c, a, b) => "{% if " + c + " %}" + a + "{% elif " + c + " %}{% else %}" + b + "{% endif %}")),
            (1, Gen.Select(Pick("message in messages", "m in x", "x in range(3)", "k, v in x|items", "m in messages if m.role == 'user'", "m in messages recursive"), body, Gen.Bool)
                .Select((h, b, els) => "{%- for " + h + " %}" + b + (els ? "{% else %}e" : "") + "{%- endfor %}")),
            (1, Gen.Select(body, Gen.Bool).Select((b, self_) => "{% macro f(a, b=1) %}" + b + (self_ ? "{{ f(a) }}" : "") + "{% endmacro %}{{ f(1) }}")),
            (1, Exprs.Select(e => "{% set x %}" + e + "{% endset %}")),
            (1, body.Select(b => "{% filter upper %}" + b + "{% endfilter %}")));
    });

    private static readonly Gen<string> RandomTemplates = Gen.Select(Pick("", "{% set ns = namespace(v=0) %}"), Nodes.List[0, 5])
        .Select((prefix, nodes) => prefix + string.Concat(nodes));

    /// <summary>A real template with one piece of damage: a cut, a deleted range, a duplicated range, a fragment inserted.</summary>
    private static readonly Gen<string> MutatedTemplates = Gen.Select(Gen.Int[0, 4], Gen.Int[0, 1_000_000], Gen.Int[0, 40], Gen.Int[0, 3],
            Pick("{%", "%}", "{{", "}}", "{% endif %}", "{% endfor %}", "(", ")", "[", "]", "'", "\"", "|", "|trim", " is ", "-", "{#", "loop.", "~", ".", "\\"))
        .Select((which, at, len, kind, fragment) =>
        {
            string t = RealTemplates.Value[which];
            int i = at % (t.Length + 1);
            int n = Math.Min(len, t.Length - i);
            return kind switch
            {
                0 => t[..i],
                1 => t.Remove(i, n),
                2 => t.Insert(i, t.Substring(i, n)),
                _ => t.Insert(i, fragment),
            };
        });

    private static readonly Gen<object?> JsonishValues = Gen.Recursive<object?>((depth, self) => depth >= 2
        ? Gen.Frequency((3, Gen.String[Gen.Char["ab <>|\n{}%'\"é😀"], 0, 8].Select(s => (object?)s)), (1, Gen.Long.Select(l => (object?)l)),
            (1, Gen.Bool.Select(b => (object?)b)), (1, Gen.Double.Select(d => (object?)d)), (1, Gen.Const<object?>(default(object)!)))
        : Gen.Frequency((5, self), (1, self.List[0, 3].Select(l => (object?)l)),
            (1, Gen.Select(Pick("role", "content", "name", "type", "text", "tool_calls"), self).List[0, 3]
                .Select(ps => (object?)ps.DistinctBy(p => p.Item1).ToDictionary(p => p.Item1, p => p.Item2)))));

    /// <summary>Message lists: mostly role + string content in any order of roles, sometimes odd contents and extra keys.</summary>
    private static readonly Gen<List<IReadOnlyDictionary<string, object?>>> Messages =
        Gen.Select(Pick("system", "user", "assistant", "tool", "developer", "function", "bogus"),
                Gen.Frequency((5, Gen.String[Gen.Char["ab <>|\n{}%'\"é😀"], 0, 12].Select(s => (object?)s)), (1, JsonishValues)),
                Gen.Frequency((4, Gen.Bool.Select(_ => (Dictionary<string, object?>?)null)),
                    (1, Gen.Select(Pick("name", "tool_calls", "tool_call_id", "role"), JsonishValues).Select(p => (Dictionary<string, object?>?)new() { [p.Item1] = p.Item2 }))))
            .Select((role, content, extra) =>
            {
                var d = new Dictionary<string, object?>(StringComparer.Ordinal) { ["role"] = role, ["content"] = content };
                if (extra != null) foreach (var (k, v) in extra) d[k] = v;
                return (IReadOnlyDictionary<string, object?>)d;
            }).List[0, 6];

    private static string Show(string template) => JsonSerializer.Serialize(template);

    private static void ParseAndRender(string template, IReadOnlyList<IReadOnlyDictionary<string, object?>> messages, string shown) =>
        BoundedCase.Run(shown, () =>
        {
            ChatTemplate parsed;
            try
            {
                parsed = ChatTemplate.Parse(template);
            }
            catch (TemplateSyntaxException e)
            {
                Assert.True(e.Line >= 1, $"line {e.Line} for {shown}");
                return;
            }
            foreach (bool addGenerationPrompt in new[] { false, true })
            {
                try
                {
                    Assert.NotNull(parsed.RenderChat(messages, addGenerationPrompt, "<s>", "</s>",
                        new Dictionary<string, object?> { ["x"] = new List<object?> { 1L, "a", null }, ["message"] = messages.FirstOrDefault() }));
                }
                catch (TemplateRuntimeException) { }
            }
        });

    private static readonly IReadOnlyList<IReadOnlyDictionary<string, object?>> TwoMessages =
    [
        new Dictionary<string, object?> { ["role"] = "user", ["content"] = "hi" },
        new Dictionary<string, object?> { ["role"] = "assistant", ["content"] = "hello" },
    ];

    [Fact]
    public void Random_templates_parse_and_render_or_fail_with_the_template_exceptions() =>
        RandomTemplates.Sample(t => ParseAndRender(t, TwoMessages, Show(t)), seed: BoundedCase.Seed, iter: 1000, print: Show);

    [Fact]
    public void Mutated_real_templates_parse_and_render_or_fail_with_the_template_exceptions() =>
        MutatedTemplates.Sample(t => ParseAndRender(t, TwoMessages, Show(t)), seed: BoundedCase.Seed, iter: 600, print: Show);

    [Fact]
    public void Real_templates_render_random_messages_or_fail_with_TemplateRuntimeException() =>
        Gen.Select(Gen.Int[0, 4], Messages).Sample((which, messages) =>
        {
            string shown = $"template {which} with {JsonSerializer.Serialize(messages)}";
            ParseAndRender(RealTemplates.Value[which], messages, shown);
        }, seed: BoundedCase.Seed, iter: 600, print: x => $"template {x.Item1} with {JsonSerializer.Serialize(x.Item2)}");
}
