using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using Google.Protobuf;
using Grpc.Core;
using InferenceServer.GrpcApi.V1;
using InferenceServer.Server.Settings;
using static InferenceServer.Server.Tests.Grpc.GrpcTestSupport;

namespace InferenceServer.Server.Tests.Grpc;

/// <summary>
/// What happens before a gRPC message is parsed: invalid UTF-8 is INVALID_ARGUMENT (not UNKNOWN), a call without the
/// API key is UNAUTHENTICATED even with a malformed body, the stop-string cap matches REST's, and the error counter
/// sees every non-OK status (including those set outside the handler: DEADLINE_EXCEEDED, CANCELLED).
/// </summary>
public sealed class GrpcGateTests(ServerFixture server)
{
    /// <summary>TokenizeRequest { text (field 2) = bytes 0xC3 0x28 } : not UTF-8.</summary>
    private static readonly byte[] BadUtf8Tokenize = [0x12, 0x02, 0xC3, 0x28];

    private static readonly Method<byte[], byte[]> RawTokenize = new(MethodType.Unary, "inference.v1.InferenceService", "Tokenize",
        Marshallers.Create(b => b, b => b), Marshallers.Create(b => b, b => b));

    private static readonly Method<byte[], byte[]> RawGenerate = new(MethodType.ServerStreaming, "inference.v1.InferenceService", "Generate",
        Marshallers.Create(b => b, b => b), Marshallers.Create(b => b, b => b));

    [Fact]
    public async Task Invalid_utf8_in_a_string_field_is_invalid_argument_and_the_server_keeps_serving()
    {
        var invoker = Channel(server.GrpcUri).CreateCallInvoker();
        var e = await Fails(() => invoker.AsyncUnaryCall(RawTokenize, null, Options(), BadUtf8Tokenize).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("UTF-8", e.Status.Detail);

        // GenerateRequest { text = invalid } on the streaming method: the same, before any message.
        using (var call = invoker.AsyncServerStreamingCall(RawGenerate, null, Options(), [0x12, 0x01, 0xFF]))
            e = await Fails(() => call.ResponseStream.MoveNext(TestContext.Current.CancellationToken));
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("GenerateRequest", e.Status.Detail);

        // A well-formed message through the same raw path is served (the body put back is read by the runtime).
        var ok = await invoker.AsyncUnaryCall(RawTokenize, null, Options(), new TokenizeRequest { Text = "Hello" }.ToByteArray()).ResponseAsync;
        Assert.True(TokenizeResponse.Parser.ParseFrom(ok).Count > 0);
    }

    [Fact]
    public async Task Without_the_api_key_a_malformed_call_is_unauthenticated()
    {
        var (app, _, grpcUri) = await server.StartServerWithGrpc(new ServerSettings { ServedModelNames = [ServerFixture.Model], ApiKey = "sekrit" });
        await using var _ = app;
        var invoker = Channel(grpcUri).CreateCallInvoker();
        var e = await Fails(() => invoker.AsyncUnaryCall(RawTokenize, null, Options(), BadUtf8Tokenize).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, e.StatusCode);
        e = await Fails(() => invoker.AsyncUnaryCall(RawTokenize, null, Options("wrong"), BadUtf8Tokenize).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, e.StatusCode);
        // With the key, the malformed body is the problem.
        e = await Fails(() => invoker.AsyncUnaryCall(RawTokenize, null, Options("sekrit"), BadUtf8Tokenize).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
    }

    [Fact]
    public async Task More_than_32_stop_strings_are_invalid_argument_like_rest()
    {
        var client = new InferenceService.InferenceServiceClient(Channel(server.GrpcUri));
        var request = Greedy("Hello", 2);
        request.Sampling.Stop.AddRange(Enumerable.Range(0, 33).Select(i => $"stop{i}"));
        var e = await Fails(() => client.CompleteAsync(request, Options()).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("at most 32", e.Status.Detail);
        Assert.Equal("stop", e.Trailers.GetValue("error-param"));

        request = Greedy("Hello", 2);
        request.Sampling.Stop.AddRange(Enumerable.Range(0, 32).Select(i => $"stop{i}"));
        Assert.Equal(2, (await client.CompleteAsync(request, Options())).TokenIds.Count);
    }

    [Fact]
    public async Task The_error_counter_counts_statuses_set_outside_the_handler()
    {
        var ct = TestContext.Current.CancellationToken;
        var (app, baseUri, grpcUri) = await server.StartServerWithGrpc(new ServerSettings { ServedModelNames = [ServerFixture.Model] });
        await using var _ = app;
        using var http = new HttpClient { BaseAddress = baseUri };
        var before = await Scrape(http, ct);
        var channel = Channel(grpcUri);
        var client = new InferenceService.InferenceServiceClient(channel);

        await Fails(() => channel.CreateCallInvoker().AsyncUnaryCall(RawTokenize, null, Options(), BadUtf8Tokenize).ResponseAsync);
        // A deadline shorter than the generation.
        var e = await Fails(() => client.CompleteAsync(Greedy("The film was", 240), new CallOptions(deadline: DateTime.UtcNow.AddMilliseconds(150), cancellationToken: ct)).ResponseAsync);
        Assert.Equal(StatusCode.DeadlineExceeded, e.StatusCode);
        // A client that cancels mid-stream.
        using (var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct))
        using (var call = client.Generate(Greedy("The film was", 200), new CallOptions(cancellationToken: cancel.Token)))
        {
            Assert.True(await call.ResponseStream.MoveNext(ct));
            cancel.Cancel();
            await Fails(async () => { while (await call.ResponseStream.MoveNext(cancel.Token)) { } });
        }

        // Counters are process-wide (other tests add to them too), so each must have grown by at least one.
        string[] codes = ["InvalidArgument", "DeadlineExceeded", "Cancelled"];
        await InferenceServer.TestSupport.Waits.UntilAsync("the gRPC error counters to grow", TimeSpan.FromSeconds(10),
            t => Scrape(http, t), now => codes.All(c => now.GetValueOrDefault(c) > before.GetValueOrDefault(c)), TimeSpan.FromMilliseconds(50),
            now => string.Join(", ", codes.Select(c => $"{c}: {before.GetValueOrDefault(c)} -> {now.GetValueOrDefault(c)}")), ct);
    }

    private static async Task<Dictionary<string, double>> Scrape(HttpClient http, CancellationToken ct)
    {
        using var req = new HttpRequestMessage(HttpMethod.Get, "metrics");
        req.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/plain"));
        string text = await (await http.SendAsync(req, ct)).Content.ReadAsStringAsync(ct);
        return Regex.Matches(text, "^inference_grpc_errors_total\\{[^}]*code=\"(\\w+)\"[^}]*\\} (\\S+)", RegexOptions.Multiline)
            .ToDictionary(m => m.Groups[1].Value, m => double.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));
    }
}
