using System.Text;
using Grpc.Core;
using InferenceServer.GrpcApi.V1;

namespace InferenceServer.Server.Tests.Reliability;

/// <summary>
/// One hostile input and what the server must answer. REST cases give the request and the expected status, error
/// type and (when one field is to blame) param; gRPC cases give the call and the expected status code.
/// </summary>
public sealed record HostileCase(string Name, int Status, string? Type, string? Param = null)
{
    public string Method { get; init; } = "POST";
    public string Path { get; init; } = "v1/completions";
    public string? Json { get; init; }
    public byte[]? Raw { get; init; }
    public string ContentType { get; init; } = "application/json";
    public (string Name, string Value)? Header { get; init; }

    /// <summary>gRPC cases: the call, and the status it must end with.</summary>
    public Func<InferenceService.InferenceServiceClient, CallOptions, Task>? Grpc { get; init; }
    public StatusCode GrpcStatus { get; init; }

    public override string ToString() => Name;
}

/// <summary>The catalogue: one table, over REST and gRPC, each row with its expected answer.</summary>
public static class HostileInputCatalogue
{
    private const string Chat = "v1/chat/completions";
    private const string Bad = "invalid_request_error";
    private static readonly string Deep65 = new string('[', 65) + new string(']', 65);
    private static readonly string Deep10K = new string('[', 10_000) + new string(']', 10_000);

    private static HostileCase C(string name, string json, string? param, int status = 400, string type = Bad) => new(name, status, type, param) { Json = json };

    private static HostileCase M(string name, string messagesJson, string? param = "messages") =>
        new(name, 400, Bad, param) { Path = Chat, Json = "{\"messages\": " + messagesJson + ", \"max_tokens\": 2}" };

    private static HostileCase G(string name, StatusCode code, Func<InferenceService.InferenceServiceClient, CallOptions, Task> call) =>
        new(name, 0, null) { Grpc = call, GrpcStatus = code };

    private static GenerateRequest Gen(Action<SamplingParameters> sampling, string text = "The committee")
    {
        var s = new SamplingParameters { MaxTokens = 2 };
        sampling(s);
        return new GenerateRequest { Text = text, Sampling = s };
    }

    private static Task Complete(InferenceService.InferenceServiceClient c, CallOptions o, GenerateRequest r) => c.CompleteAsync(r, o).ResponseAsync;

    private static async Task Stream(InferenceService.InferenceServiceClient c, CallOptions o, GenerateRequest r)
    {
        using var call = c.Generate(r, o);
        while (await call.ResponseStream.MoveNext(o.CancellationToken)) { }
    }

    public static readonly HostileCase[] Cases =
    [
        // The body itself.
        C("empty body", "", null),
        C("JSON null", "null", null),
        C("JSON array", "[]", null),
        C("JSON number", "123", null),
        C("JSON string", "\"prompt\"", null),
        C("cut-off JSON", "{\"prompt\": \"x\"", null),
        C("trailing garbage", "{\"prompt\": \"x\", \"max_tokens\": 1} xyz", null),
        C("JSON comment", "{/* hi */ \"prompt\": \"x\", \"max_tokens\": 1}", null),
        C("trailing comma", "{\"prompt\": \"x\", \"max_tokens\": 1,}", null),
        C("single-quoted JSON", "{'prompt': 'x'}", null),
        C("NaN literal", "{\"prompt\": \"x\", \"temperature\": NaN}", null),
        C("Infinity literal", "{\"prompt\": \"x\", \"temperature\": Infinity}", null),
        C("65 levels of nesting", "{\"prompt\": \"x\", \"extra\": " + Deep65 + "}", null),
        C("10,000 levels of nesting", "{\"prompt\": \"x\", \"extra\": " + Deep10K + "}", null),
        C("lone surrogate in prompt", "{\"prompt\": \"a\\ud800b\", \"max_tokens\": 1}", "prompt"),
        new("invalid UTF-8 bytes", 400, Bad) { Raw = [.. "{\"prompt\": \""u8, 0xC3, 0x28, 0xFF, .. "\", \"max_tokens\": 1}"u8] },
        new("NUL bytes around the JSON", 400, Bad) { Raw = [0, .. "{\"prompt\": \"x\"}"u8, 0] },
        new("body over the 64 KiB limit", 413, Bad) { Json = "{\"prompt\": \"" + new string('a', 70_000) + "\"}" },
        new("text/plain body that is not JSON", 400, Bad) { Json = "prompt: x", ContentType = "text/plain" },
        new("form-encoded body", 400, Bad) { Json = "prompt=x&max_tokens=1", ContentType = "application/x-www-form-urlencoded" },

        // Field types and ranges (completions).
        C("prompt missing", "{\"max_tokens\": 1}", "prompt"),
        C("prompt an object", "{\"prompt\": {\"a\": 1}}", "prompt"),
        C("prompt a number", "{\"prompt\": 5}", "prompt"),
        C("prompt token id past the vocabulary", "{\"prompt\": [999999], \"max_tokens\": 1}", "prompt"),
        C("prompt token id negative", "{\"prompt\": [-1], \"max_tokens\": 1}", "prompt"),
        C("prompt token ids mixed with text", "{\"prompt\": [[1, \"a\"]], \"max_tokens\": 1}", "prompt"),
        C("prompt longer than the context", "{\"prompt\": \"" + string.Concat(Enumerable.Repeat("word ", 1000)) + "\", \"max_tokens\": 1}", "prompt"),
        C("empty prompt list", "{\"prompt\": [], \"max_tokens\": 1}", "prompt"),
        C("max_tokens as a string", "{\"prompt\": \"x\", \"max_tokens\": \"5\"}", "max_tokens"),
        C("max_tokens negative", "{\"prompt\": \"x\", \"max_tokens\": -1}", "max_tokens"),
        C("max_tokens zero", "{\"prompt\": \"x\", \"max_tokens\": 0}", "max_tokens"),
        C("max_tokens fractional", "{\"prompt\": \"x\", \"max_tokens\": 1.5}", "max_tokens"),
        C("max_tokens 1e400", "{\"prompt\": \"x\", \"max_tokens\": 1e400}", "max_tokens"),
        C("max_tokens past int32", "{\"prompt\": \"x\", \"max_tokens\": 4294967296}", "max_tokens"),
        C("max_tokens int32 max", "{\"prompt\": \"x\", \"max_tokens\": 2147483647}", "max_tokens"),
        C("max_tokens past the context", "{\"prompt\": \"x\", \"max_tokens\": 100000}", "max_tokens"),
        C("temperature negative", "{\"prompt\": \"x\", \"temperature\": -1, \"max_tokens\": 1}", "temperature"),
        C("temperature a word", "{\"prompt\": \"x\", \"temperature\": \"hot\", \"max_tokens\": 1}", "temperature"),
        C("temperature 1e39", "{\"prompt\": \"x\", \"temperature\": 1e39, \"max_tokens\": 1}", "temperature"),
        C("top_p zero", "{\"prompt\": \"x\", \"top_p\": 0, \"max_tokens\": 1}", "top_p"),
        C("top_p above one", "{\"prompt\": \"x\", \"top_p\": 1.5, \"max_tokens\": 1}", "top_p"),
        C("top_k -5", "{\"prompt\": \"x\", \"top_k\": -5, \"max_tokens\": 1}", "top_k"),
        C("min_p above one", "{\"prompt\": \"x\", \"min_p\": 2, \"max_tokens\": 1}", "min_p"),
        C("presence_penalty 5", "{\"prompt\": \"x\", \"presence_penalty\": 5, \"max_tokens\": 1}", "presence_penalty"),
        C("frequency_penalty -3", "{\"prompt\": \"x\", \"frequency_penalty\": -3, \"max_tokens\": 1}", "frequency_penalty"),
        C("repetition_penalty zero", "{\"prompt\": \"x\", \"repetition_penalty\": 0, \"max_tokens\": 1}", "repetition_penalty"),
        C("n zero", "{\"prompt\": \"x\", \"n\": 0, \"max_tokens\": 1}", "n"),
        C("n 100000", "{\"prompt\": \"x\", \"n\": 100000, \"max_tokens\": 1}", "n"),
        C("logprobs 100", "{\"prompt\": \"x\", \"logprobs\": 100, \"max_tokens\": 1}", "logprobs"),
        C("logprobs negative", "{\"prompt\": \"x\", \"logprobs\": -1, \"max_tokens\": 1}", "logprobs"),
        C("33 stop strings", "{\"prompt\": \"x\", \"stop\": [" + string.Join(",", Enumerable.Range(0, 33).Select(i => $"\"s{i}\"")) + "], \"max_tokens\": 1}", "stop"),
        C("stop a number", "{\"prompt\": \"x\", \"stop\": 5, \"max_tokens\": 1}", "stop"),
        C("stop_token_ids past the vocabulary", "{\"prompt\": \"x\", \"stop_token_ids\": [999999], \"max_tokens\": 1}", "stop_token_ids"),
        C("seed a word", "{\"prompt\": \"x\", \"seed\": \"abc\", \"max_tokens\": 1}", "seed"),
        C("seed 1e30", "{\"prompt\": \"x\", \"seed\": 1e30, \"max_tokens\": 1}", "seed"),
        C("logit_bias key not a number", "{\"prompt\": \"x\", \"logit_bias\": {\"abc\": 1}, \"max_tokens\": 1}", "logit_bias"),
        C("logit_bias token past the vocabulary", "{\"prompt\": \"x\", \"logit_bias\": {\"999999\": 1}, \"max_tokens\": 1}", "logit_bias"),
        C("logit_bias value 1000", "{\"prompt\": \"x\", \"logit_bias\": {\"5\": 1000}, \"max_tokens\": 1}", "logit_bias"),
        C("min_tokens above max_tokens", "{\"prompt\": \"x\", \"min_tokens\": 5, \"max_tokens\": 2}", "min_tokens"),
        C("stream a word", "{\"prompt\": \"x\", \"stream\": \"yes\", \"max_tokens\": 1}", "stream"),
        C("stream_options without stream", "{\"prompt\": \"x\", \"stream_options\": {\"include_usage\": true}, \"max_tokens\": 1}", "stream_options"),
        C("unknown model", "{\"model\": \"gpt-17\", \"prompt\": \"x\", \"max_tokens\": 1}", "model", 404),
        C("model a number", "{\"model\": 5, \"prompt\": \"x\", \"max_tokens\": 1}", "model"),

        // Chat.
        new("messages missing", 400, Bad, "messages") { Path = Chat, Json = "{\"max_tokens\": 1}" },
        M("messages empty", "[]"),
        M("messages a string", "\"hi\""),
        M("message without a role", "[{\"content\": \"hi\"}]"),
        M("unknown role", "[{\"role\": \"wizard\", \"content\": \"hi\"}]"),
        M("content a number", "[{\"role\": \"user\", \"content\": 5}]"),
        M("content part of unknown type", "[{\"role\": \"user\", \"content\": [{\"type\": \"hologram\", \"hologram\": {}}]}]"),
        M("content part type a number", "[{\"role\": \"user\", \"content\": [{\"type\": 5}]}]"),
        M("content nested 60 deep", "[{\"role\": \"user\", \"content\": " + new string('[', 60) + "\"x\"" + new string(']', 60) + "}]"),
        M("message a string", "[\"hi\"]"),
        M("conversation longer than the context", "[" + string.Join(",", Enumerable.Repeat("{\"role\": \"user\", \"content\": \"hello there\"}", 400)) + "]"),
        new("tools a string", 400, Bad, "tools") { Path = Chat, Json = "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"tools\": \"x\", \"max_tokens\": 1}" },
        new("max_completion_tokens negative", 400, Bad, "max_completion_tokens") { Path = Chat, Json = "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_completion_tokens\": -1}" },

        // Routes, methods and headers.
        new("GET on a POST route", 405, Bad) { Method = "GET" },
        new("PUT on a POST route", 405, Bad) { Method = "PUT", Path = Chat, Json = "{}" },
        new("DELETE /v1/models", 405, Bad) { Method = "DELETE", Path = "v1/models" },
        new("unknown route", 404, Bad) { Path = "v1/nope", Json = "{}" },
        new("path traversal", 404, Bad) { Method = "GET", Path = "v1/%2e%2e/%2e%2e/etc/passwd" },
        new("7 KB path", 404, Bad) { Method = "GET", Path = "v1/" + new string('a', 7_000) },
        new("20 KB path", 414, null) { Method = "GET", Path = "v1/" + new string('a', 20_000) },
        new("40 KB header", 431, null) { Header = ("X-Junk", new string('a', 40_000)), Json = "{\"prompt\": \"x\", \"max_tokens\": 1}" },
        new("tokenize with a bad prompt", 400, Bad, "prompt") { Path = "tokenize", Json = "{\"prompt\": 5}" },
        new("detokenize a negative id", 400, Bad, "tokens") { Path = "detokenize", Json = "{\"tokens\": [-1]}" },

        // gRPC.
        G("gRPC: no prompt", StatusCode.InvalidArgument, (c, o) => Complete(c, o, new GenerateRequest { Sampling = new SamplingParameters { MaxTokens = 1 } })),
        G("gRPC: token id past the vocabulary", StatusCode.InvalidArgument, (c, o) => Complete(c, o, new GenerateRequest { TokenIds = new TokenIds { Ids = { 999999 } } })),
        G("gRPC: empty token ids", StatusCode.InvalidArgument, (c, o) => Complete(c, o, new GenerateRequest { TokenIds = new TokenIds() })),
        G("gRPC: temperature negative", StatusCode.InvalidArgument, (c, o) => Complete(c, o, Gen(s => s.Temperature = -1))),
        G("gRPC: temperature NaN", StatusCode.InvalidArgument, (c, o) => Complete(c, o, Gen(s => s.Temperature = float.NaN))),
        G("gRPC: max_tokens zero", StatusCode.InvalidArgument, (c, o) => Complete(c, o, Gen(s => s.MaxTokens = 0))),
        G("gRPC: max_tokens past the context", StatusCode.InvalidArgument, (c, o) => Complete(c, o, Gen(s => s.MaxTokens = int.MaxValue))),
        G("gRPC: top_p above one", StatusCode.InvalidArgument, (c, o) => Stream(c, o, Gen(s => s.TopP = 2))),
        G("gRPC: top_k -5", StatusCode.InvalidArgument, (c, o) => Stream(c, o, Gen(s => s.TopK = -5))),
        G("gRPC: repetition_penalty zero", StatusCode.InvalidArgument, (c, o) => Complete(c, o, Gen(s => s.RepetitionPenalty = 0))),
        G("gRPC: presence_penalty infinite", StatusCode.InvalidArgument, (c, o) => Complete(c, o, Gen(s => s.PresencePenalty = float.PositiveInfinity))),
        G("gRPC: logprobs 100", StatusCode.InvalidArgument, (c, o) => Complete(c, o, Gen(s => s.Logprobs = 100))),
        G("gRPC: 33 stop strings", StatusCode.InvalidArgument, (c, o) => Stream(c, o, Gen(s => s.Stop.AddRange(Enumerable.Range(0, 33).Select(i => "s" + i))))),
        G("gRPC: logit_bias token past the vocabulary", StatusCode.InvalidArgument, (c, o) => Complete(c, o, Gen(s => s.LogitBias[999999] = 1))),
        G("gRPC: stop_token_ids negative", StatusCode.InvalidArgument, (c, o) => Complete(c, o, Gen(s => s.StopTokenIds.Add(-3)))),
        G("gRPC: min_tokens above max_tokens", StatusCode.InvalidArgument, (c, o) => Complete(c, o, Gen(s => s.MinTokens = 9))),
        G("gRPC: prompt longer than the context", StatusCode.InvalidArgument, (c, o) => Complete(c, o, Gen(_ => { }, string.Concat(Enumerable.Repeat("word ", 1000))))),
        G("gRPC: unknown model", StatusCode.NotFound, (c, o) => Complete(c, o, new GenerateRequest { Model = "gpt-17", Text = "x" })),
        G("gRPC: detokenize a negative id", StatusCode.InvalidArgument, (c, o) => c.DetokenizeAsync(new DetokenizeRequest { TokenIds = { -1 } }, o).ResponseAsync),
        G("gRPC: 5 MB message", StatusCode.ResourceExhausted, (c, o) => c.TokenizeAsync(new TokenizeRequest { Text = new string('a', 5 << 20) }, o).ResponseAsync),
    ];
}
