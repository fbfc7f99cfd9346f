using System.Text;
using System.Text.Json;
using CsCheck;
using InferenceServer.Engine.Requests;
using InferenceServer.Server.OpenAi;
using InferenceServer.Server.Settings;
using InferenceServer.Engine.Serving;
using InferenceServer.TestSupport;
using InferenceServer.Tokenization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace InferenceServer.Server.Tests.Properties;

/// <summary>
/// Property tests of the REST request reader: random and mutated bodies go through the real route handlers
/// (<see cref="CompletionsEndpoint.Handle"/>, <see cref="ChatCompletionsEndpoint.Handle"/>: RequestJson.ReadAsync,
/// the typed getters, SamplingParsing, StreamOptions, the prompt readers and ChatPrompt with tiny-llama's template)
/// in process, with a stand-in engine that validates the finished request (SamplingParams.Validate, as the real
/// engine does) and then reports a full queue. Every body must end in a 4xx error object or that 429 (the request
/// was accepted), never in the 500 that <see cref="EndpointSupport.Handle"/> writes for an unexpected exception,
/// and within <see cref="BoundedCase.Timeout"/>.
/// </summary>
public sealed class RequestParsingProperties
{
    private static readonly Lazy<LoadedTokenizer> TinyLlama = new(() => TokenizerLoader.Load(RepoPaths.TinyLlama));

    // ---- JSON text generators (raw text, so numbers like 1e400 and escapes like \ud800 can be spelled) ----

    private static Gen<string> Pick(params string[] xs) => Gen.Int[0, xs.Length - 1].Select(i => xs[i]);

    private static readonly Gen<string> Numbers = Gen.Frequency(
        (3, Gen.Int[-3, 40].Select(i => i.ToString())),
        (2, Pick("0", "-0", "1", "-1", "0.5", "5.0", "5.5", "2147483647", "2147483648", "-2147483649", "9223372036854775807",
            "9223372036854775808", "1e20", "1e400", "-1e400", "1e-400", "1E2", "100", "100.5", "-100.0001", "1e-7", "0.0000001", "3.4e38", "1.8e308")),
        (1, Gen.Double.Select(d => double.IsFinite(d) ? d.ToString("R", System.Globalization.CultureInfo.InvariantCulture) : "0")));

    private static readonly Gen<string> Strings = Gen.Frequency(
        (3, Gen.String[Gen.Char["abc xyz<>|/_-.\n\t\"\\é€😀"], 0, 12].Select(s => JsonSerializer.Serialize(s))),
        (2, Pick("\"\"", "\"user\"", "\"assistant\"", "\"system\"", "\"tool\"", "\"text\"", "\"tiny-llama\"", "\"other-model\"",
            "\"\\ud800\"", "\"\\udc00x\"", "\"\\ud83d\\ude00\"", "\"\\u0000\"", "\"<s>\"", "\"</s>\"", "\"5\"", "\"-1\"", "\"  7\"", "\"99999999999\"",
            "\"image_url\"", "\"\\uFFFF\"")));

    private static readonly Gen<string> Scalars = Gen.Frequency(
        (1, Pick("null", "true", "false")), (3, Numbers), (3, Strings));

    private static readonly Gen<string> Values = Gen.Recursive<string>((depth, self) => depth >= 3
        ? Scalars
        : Gen.Frequency(
            (6, Scalars),
            (2, self.List[0, 4].Select(xs => "[" + string.Join(",", xs) + "]")),
            (2, Gen.Select(Gen.OneOf(Strings, Pick("\"role\"", "\"content\"", "\"type\"", "\"text\"", "\"include_usage\"", "\"5\"", "\"-3\"", "\"x\""))
                    .Where(k => !k.Contains("\\ud8") && !k.Contains("\\udc")), self).List[0, 4]
                .Select(ps => "{" + string.Join(",", ps.Select(p => p.Item1 + ":" + p.Item2)) + "}"))));

    private static readonly Gen<string> Message = Gen.Select(
            Gen.Frequency((6, Pick("\"user\"", "\"assistant\"", "\"system\"")), (1, Pick("\"tool\"", "\"developer\"", "\"bogus\"", "5", "null"))),
            Gen.Frequency((5, Strings), (1, Values),
                (1, Strings.List[0, 3].Select(ts => "[" + string.Join(",", ts.Select(t => "{\"type\":\"text\",\"text\":" + t + "}")) + "]"))),
            Gen.Int[0, 9])
        .Select((role, content, shape) => shape switch
        {
            0 => "{\"content\":" + content + "}",
            1 => "{\"role\":" + role + "}",
            2 => "{\"role\":" + role + ",\"content\":" + content + ",\"name\":\"n\"}",
            _ => "{\"role\":" + role + ",\"content\":" + content + "}",
        });

    /// <summary>Field-specific values that are mostly valid, so the parsers get past the first error.</summary>
    private static Gen<string> Plausible(string field) => field switch
    {
        "messages" => Gen.Frequency((8, Message.List[0, 4].Select(ms => "[" + string.Join(",", ms) + "]")), (1, Values)),
        "prompt" => Gen.Frequency((3, Strings), (1, Strings.List[0, 3].Select(xs => "[" + string.Join(",", xs) + "]")),
            (1, Gen.Int[-2, 40].List[0, 5].Select(xs => "[" + string.Join(",", xs) + "]")),
            (1, Gen.Int[-2, 40].List[0, 3].List[0, 3].Select(xss => "[" + string.Join(",", xss.Select(xs => "[" + string.Join(",", xs) + "]")) + "]"))),
        "stop" => Gen.Frequency((2, Strings), (2, Strings.List[0, 40].Select(xs => "[" + string.Join(",", xs) + "]"))),
        "stop_token_ids" => Gen.Int[-5, 40000].List[0, 4].Select(xs => "[" + string.Join(",", xs) + "]"),
        "logit_bias" => Gen.Select(Pick("\"1\"", "\"-1\"", "\"31999\"", "\"32000\"", "\"x\"", "\"+2\"", "\" 3\"", "\"99999999999\""), Numbers).List[0, 3]
            .Select(ps => "{" + string.Join(",", ps.Select(p => p.Item1 + ":" + p.Item2)) + "}"),
        "stream_options" => Pick("{}", "{\"include_usage\":true}", "{\"include_usage\":1}", "[]", "null"),
        "model" => Pick("\"tiny-llama\"", "\"other\"", "5", "null"),
        "echo" or "stream" or "ignore_eos" or "skip_special_tokens" => Pick("true", "false", "null", "1"),
        "temperature" or "top_p" or "min_p" or "presence_penalty" or "frequency_penalty" or "repetition_penalty" =>
            Gen.Frequency((4, Gen.Int[0, 20].Select(i => (i / 10.0).ToString(System.Globalization.CultureInfo.InvariantCulture))), (1, Numbers)),
        "n" or "best_of" or "max_tokens" or "max_completion_tokens" or "top_k" or "min_tokens" or "logprobs" or "top_logprobs" or "seed" =>
            Gen.Frequency((4, Gen.Int[0, 4].Select(i => i.ToString())), (1, Numbers)),
        _ => Gen.Frequency((3, Numbers), (1, Pick("true", "false", "null"))),
    };

    private static readonly string[] Fields =
    [
        "model", "prompt", "messages", "n", "best_of", "logprobs", "top_logprobs", "echo", "stream", "stream_options", "max_tokens",
        "max_completion_tokens", "temperature", "top_p", "top_k", "min_p", "presence_penalty", "frequency_penalty",
        "repetition_penalty", "logit_bias", "seed", "min_tokens", "stop", "stop_token_ids", "ignore_eos", "skip_special_tokens",
        "suffix", "user", "tools", "unknown_field",
    ];

    private static readonly Gen<string> Field = Gen.Int[0, Fields.Length - 1].Select(i => Fields[i]);

    /// <summary>
    /// A JSON object of 0–6 request fields, mostly plausible values, sometimes any value; usually with a prompt and
    /// messages first, so that both routes often get past the required field and into the other parsers.
    /// </summary>
    private static readonly Gen<string> Bodies = Gen.Select(
            Gen.Frequency((4, Plausible("prompt").Select(v => "\"prompt\":" + v)), (1, Gen.Const(""))),
            Gen.Frequency((4, Plausible("messages").Select(v => "\"messages\":" + v)), (1, Gen.Const(""))),
            Gen.Select(Field, Gen.Int[0, 4]).SelectMany((f, random) =>
                (random == 0 ? Values : Plausible(f)).Select(v => JsonSerializer.Serialize(f) + ":" + v)).List[0, 6])
        .Select((prompt, messages, ps) => "{" + string.Join(",", new[] { prompt, messages }.Where(x => x.Length > 0).Concat(ps)) + "}");

    /// <summary>A body with byte-level damage: a cut, a deleted or replaced byte, an inserted byte (invalid UTF-8 too), a BOM, deep nesting.</summary>
    private static readonly Gen<byte[]> MutatedBodies = Gen.Select(Bodies, Gen.Int[0, 6], Gen.Int[0, 100_000], Gen.Byte)
        .Select((body, kind, at, b) =>
        {
            var bytes = Encoding.UTF8.GetBytes(body).ToList();
            int i = bytes.Count == 0 ? 0 : at % bytes.Count;
            switch (kind)
            {
                case 0: bytes = bytes.Take(i).ToList(); break;
                case 1: if (bytes.Count > 0) bytes.RemoveAt(i); break;
                case 2: if (bytes.Count > 0) bytes[i] = b; break;
                case 3: bytes.Insert(i, b); break;
                case 4: bytes.InsertRange(0, new byte[] { 0xEF, 0xBB, 0xBF }); break;
                case 5: // nesting around a field value, deeper or shallower than RequestJson.MaxDepth
                    int depth = 1 + at % 200;
                    var nested = new string('[', depth) + "1" + new string(']', depth);
                    bytes = Encoding.UTF8.GetBytes("{\"stop\":" + nested + ",\"prompt\":\"x\"}").ToList();
                    break;
                default: bytes.InsertRange(i, "\\ud800"u8.ToArray()); break;
            }
            return bytes.ToArray();
        });

    // ---- the handler harness ----

    private sealed class ErrorCapture : ILoggerProvider, ILogger
    {
        public Exception? Error;
        public ILogger CreateLogger(string categoryName) => this;
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= LogLevel.Error) Error ??= exception ?? new Exception(formatter(state, exception));
        }
        public void Dispose() { }
    }

    private static async Task<(int Status, string Body, Exception? Error)> Post(RequestDelegate handler, byte[] body)
    {
        var (tokenizer, config) = TinyLlama.Value;
        var engine = new StandInEngine(tokenizer, config)
        {
            Ready = true,
            // What the real engine checks at submission (RequestValidation → SamplingParams.Validate), then a full queue.
            Generate = r =>
            {
                r.Sampling.Validate(tokenizer.VocabSize);
                throw new QueueFullException("full");
            },
        };
        var capture = new ErrorCapture();
        var services = new ServiceCollection()
            .AddLogging(b => b.ClearProviders().AddProvider(capture))
            .AddSingleton<IInferenceEngine>(engine)
            .AddSingleton(new ServerSettings())
            .BuildServiceProvider();
        var ctx = new DefaultHttpContext { RequestServices = services };
        ctx.Request.Method = "POST";
        ctx.Request.ContentType = "application/json";
        ctx.Request.Body = new MemoryStream(body);
        var response = new MemoryStream();
        ctx.Response.Body = response;
        await handler(ctx);
        return (ctx.Response.StatusCode, Encoding.UTF8.GetString(response.ToArray()), capture.Error);
    }

    private static void CheckClean(byte[] body)
    {
        string shown = JsonSerializer.Serialize(Encoding.UTF8.GetString(body));
        foreach (var (route, handler) in new (string, RequestDelegate)[] { ("completions", CompletionsEndpoint.Handle), ("chat", ChatCompletionsEndpoint.Handle) })
        {
            BoundedCase.Run($"{route} {shown}", async () =>
            {
                var (status, text, error) = await Post(handler, body);
                // 4xx error objects (400 type errors, 404 unknown model, 429 = parsed and submitted); never the 500 for a bug.
                if (status is < 400 or >= 500 || error is not null)
                    throw new Xunit.Sdk.XunitException($"{route}: status {status} for body {shown}: {text}\n{error}");
                using var doc = JsonDocument.Parse(text);
                Assert.Equal(JsonValueKind.String, doc.RootElement.GetProperty("error").GetProperty("message").ValueKind);
            });
        }
    }

    /// <summary>The harness itself: a valid request reaches the engine (429 from the stand-in), a wrong type is a 400.</summary>
    [Fact]
    public async Task Harness_submits_valid_requests_and_refuses_wrong_types()
    {
        Assert.Equal(429, (await Post(CompletionsEndpoint.Handle, "{\"prompt\":\"hi\",\"max_tokens\":2,\"stop\":[\"x\"]}"u8.ToArray())).Status);
        Assert.Equal(429, (await Post(ChatCompletionsEndpoint.Handle, "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"u8.ToArray())).Status);
        Assert.Equal(400, (await Post(CompletionsEndpoint.Handle, "{\"prompt\":\"hi\",\"n\":\"2\"}"u8.ToArray())).Status);
    }

    private static string Show(byte[] body) => JsonSerializer.Serialize(Encoding.UTF8.GetString(body)) + $" (bytes {Convert.ToHexString(body)})";

    [Fact]
    public void Random_bodies_are_accepted_or_refused_with_a_4xx_error_object() =>
        Bodies.Select(b => Encoding.UTF8.GetBytes(b)).Sample(CheckClean, seed: BoundedCase.Seed, iter: 400, print: Show);

    [Fact]
    public void Mutated_bodies_are_accepted_or_refused_with_a_4xx_error_object() =>
        MutatedBodies.Sample(CheckClean, seed: BoundedCase.Seed, iter: 400, print: Show);

    /// <summary>The typed getters on any JSON value: a value or an ApiException 400 naming the field, nothing else.</summary>
    [Fact]
    public void Typed_getters_return_a_value_or_a_400_naming_the_field() =>
        // Lone surrogate escapes never reach the getters: ReadAsync refuses them up front (400), see the body properties.
        Values.Where(v => !v.Contains("\\ud800") && !v.Contains("\\udc00")).Sample(v =>
        {
            using var doc = JsonDocument.Parse("{\"f\":" + v + "}");
            var j = new RequestJson(doc.RootElement);
            foreach (var get in new Func<object?>[] { () => j.String("f"), () => j.Bool("f"), () => j.Int("f"), () => j.Long("f"), () => j.Float("f"), () => SamplingParsing.ReadIntList(j, "f") })
            {
                try
                {
                    get();
                }
                catch (ApiException e)
                {
                    Assert.Equal(400, e.Status);
                    Assert.Equal("f", e.Param);
                }
            }
        }, seed: BoundedCase.Seed, iter: 1000);
}
