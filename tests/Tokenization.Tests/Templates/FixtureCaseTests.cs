using System.Text.Json;
using InferenceServer.Tokenization.Templates;
using InferenceServer.TestSupport;

namespace InferenceServer.Tokenization.Tests.Templates;

/// <summary>Every case of fixtures/chat-templates/cases.json: the output (or error) of HF transformers' renderer.</summary>
public class FixtureCaseTests
{
    private static readonly Lazy<JsonDocument> Cases = new(() =>
        JsonDocument.Parse(File.ReadAllText(RepoPaths.Fixture("chat-templates", "cases.json"))));

    private static readonly Dictionary<string, ChatTemplate> Templates = new();

    public static TheoryData<int, string> AllCases()
    {
        var data = new TheoryData<int, string>();
        var i = 0;
        foreach (var c in Cases.Value.RootElement.GetProperty("cases").EnumerateArray())
        {
            data.Add(i++, $"{c.GetProperty("template").GetString()} {c.GetProperty("conversation").GetString()} gen={c.GetProperty("add_generation_prompt").GetBoolean()}");
        }

        return data;
    }

    [Fact]
    public void ThereAre132Cases() => Assert.Equal(132, AllCases().Count);

    [Theory]
    [MemberData(nameof(AllCases))]
    public void RendersLikeTransformers(int index, string label)
    {
        var root = Cases.Value.RootElement;
        var c = root.GetProperty("cases")[index];
        var template = GetTemplate(c.GetProperty("template").GetString()!);
        var messages = TemplateValues.MessagesFromJson(root.GetProperty("conversations").GetProperty(c.GetProperty("conversation").GetString()!));
        var extra = (IReadOnlyDictionary<string, object?>)TemplateValues.FromJson(root.GetProperty("extra_variables"))!;

        string Render() => template.RenderChat(
            messages,
            c.GetProperty("add_generation_prompt").GetBoolean(),
            c.GetProperty("bos_token").GetString(),
            c.GetProperty("eos_token").GetString(),
            extra);

        if (c.TryGetProperty("rendered", out var rendered))
        {
            Assert.Equal(rendered.GetString(), Render());
        }
        else
        {
            var ex = Assert.Throws<TemplateRuntimeException>(Render);
            var pythonType = ex.Kind switch
            {
                TemplateErrorKind.Raised => "TemplateError",
                TemplateErrorKind.Undefined => "UndefinedError",
                TemplateErrorKind.Security => "SecurityError",
                _ => "TypeError",
            };
            Assert.Equal(c.GetProperty("error").GetString(), $"{pythonType}: {ex.Message}");
        }

        Assert.NotEmpty(label);
    }

    private static ChatTemplate GetTemplate(string file)
    {
        lock (Templates)
        {
            if (!Templates.TryGetValue(file, out var t))
                Templates[file] = t = ChatTemplate.Parse(File.ReadAllText(RepoPaths.Fixture("chat-templates", file)));
            return t;
        }
    }
}
