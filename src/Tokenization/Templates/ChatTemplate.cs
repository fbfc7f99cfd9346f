namespace InferenceServer.Tokenization.Templates;

/// <summary>
/// A Hugging Face chat template (the <c>chat_template</c> of tokenizer_config.json), parsed once and rendered per
/// request with the output transformers' <c>apply_chat_template</c> produces: jinja2 with <c>trim_blocks</c>,
/// <c>lstrip_blocks</c>, loop controls, the immutable sandbox, and transformers' <c>raise_exception</c>,
/// <c>strftime_now</c> and <c>tojson</c>. Instances are immutable and safe to render from many threads at once.
/// </summary>
/// <example>
/// <code>
/// var template = ChatTemplate.Parse(config.ChatTemplate);
/// var prompt = template.RenderChat(TemplateValues.MessagesFromJson(request.Messages), addGenerationPrompt: true, "&lt;s&gt;", "&lt;/s&gt;");
/// </code>
/// </example>
public sealed class ChatTemplate
{
    private readonly IReadOnlyList<Node> _body;

    private ChatTemplate(string source, IReadOnlyList<Node> body)
    {
        Source = source;
        _body = body;
    }

    public string Source { get; }

    /// <summary>Parses template source.</summary>
    /// <exception cref="TemplateSyntaxException">The source is not a valid template, or names an unknown filter or test.</exception>
    public static ChatTemplate Parse(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return new ChatTemplate(source, Parser.ParseTemplate(source));
    }

    /// <summary>
    /// Renders with the given variables (values as <see cref="TemplateValues"/> describes; others are converted).
    /// Names not in <paramref name="context"/> are undefined, as in jinja2.
    /// </summary>
    /// <param name="clock">The time <c>strftime_now</c> reads (local time); the system clock by default.</param>
    /// <exception cref="TemplateRuntimeException">
    /// The template called <c>raise_exception</c> (<see cref="TemplateErrorKind.Raised"/>; the message is the template's) or failed.
    /// </exception>
    public string Render(IReadOnlyDictionary<string, object?> context, TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        var values = (IReadOnlyDictionary<string, object?>)TemplateValues.Normalize(context)!;
        return new Interpreter(clock ?? TimeProvider.System).Render(_body, values);
    }

    /// <summary>
    /// Renders a conversation with the variables transformers passes: <c>messages</c>, <c>add_generation_prompt</c>,
    /// <c>tools</c> and <c>documents</c> (None unless given in <paramref name="extra"/>), and the special tokens.
    /// A null token is left undefined, as transformers does for a tokenizer without that token.
    /// </summary>
    /// <param name="extra">More variables (<c>tools</c>, <c>date_string</c>, <c>enable_thinking</c>, …); they win over the standard ones.</param>
    public string RenderChat(
        IReadOnlyList<IReadOnlyDictionary<string, object?>> messages,
        bool addGenerationPrompt,
        string? bosToken,
        string? eosToken,
        IReadOnlyDictionary<string, object?>? extra = null,
        TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var context = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["messages"] = messages,
            ["tools"] = null,
            ["documents"] = null,
            ["add_generation_prompt"] = addGenerationPrompt,
        };
        if (bosToken is not null) context["bos_token"] = bosToken;
        if (eosToken is not null) context["eos_token"] = eosToken;
        if (extra is not null)
            foreach (var (key, value) in extra) context[key] = value;
        return Render(context, clock);
    }
}
