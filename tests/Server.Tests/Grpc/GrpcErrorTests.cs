using Grpc.Core;
using Grpc.Health.V1;
using InferenceServer.GrpcApi.V1;
using InferenceServer.Server.Settings;
using static InferenceServer.Server.Tests.Grpc.GrpcTestSupport;

namespace InferenceServer.Server.Tests.Grpc;

/// <summary>Refused requests get the documented status code and a readable message, and the server keeps serving.</summary>
public sealed class GrpcErrorTests(ServerFixture server)
{
    private InferenceService.InferenceServiceClient Client() => new(Channel(server.GrpcUri));

    [Fact]
    public async Task Bad_requests_are_invalid_argument_naming_the_field()
    {
        var client = Client();
        var bad = Greedy("Hello", 4);
        bad.Sampling.TopP = 1.5f;
        var e = await Fails(() => client.CompleteAsync(bad, Options()).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("top_p", e.Status.Detail);
        Assert.Equal("top_p", e.Trailers.GetValue("error-param"));

        // Streaming calls fail before the first message, with the same code.
        bad = Greedy("Hello", 4);
        bad.Sampling.LogitBias[999_999] = 1;
        using (var call = client.Generate(bad, Options()))
        {
            e = await Fails(() => call.ResponseStream.MoveNext(TestContext.Current.CancellationToken));
        }
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("logit_bias", e.Status.Detail);

        e = await Fails(() => client.CompleteAsync(new GenerateRequest(), Options()).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("prompt", e.Status.Detail);

        e = await Fails(() => client.DetokenizeAsync(new DetokenizeRequest { TokenIds = { -1 } }, Options()).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);

        // The server still answers normally afterwards.
        Assert.Equal(3, (await client.CompleteAsync(Greedy("Hello", 3), Options())).TokenIds.Count);
    }

    [Fact]
    public async Task A_prompt_longer_than_the_context_is_invalid_argument()
    {
        var request = new GenerateRequest { TokenIds = new TokenIds { Ids = { Enumerable.Repeat(300, 300) } } };
        var e = await Fails(() => Client().CompleteAsync(request, Options()).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("maximum context length is 256", e.Status.Detail);
    }

    [Fact]
    public async Task An_unknown_model_is_not_found()
    {
        var client = Client();
        var request = Greedy("Hello", 2);
        request.Model = "gpt-17";
        var e = await Fails(() => client.CompleteAsync(request, Options()).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, e.StatusCode);
        Assert.Contains("gpt-17", e.Status.Detail);
        e = await Fails(() => client.TokenizeAsync(new TokenizeRequest { Model = "gpt-17", Text = "x" }, Options()).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, e.StatusCode);
        request.Model = ServerFixture.Model;
        Assert.Equal(2, (await client.CompleteAsync(request, Options())).TokenIds.Count);
    }

    [Fact]
    public async Task With_an_api_key_calls_need_the_bearer_token_but_health_stays_open()
    {
        var (app, _, grpcUri) = await server.StartServerWithGrpc(new ServerSettings { ServedModelNames = [ServerFixture.Model], ApiKey = "sekrit" });
        try
        {
            var channel = Channel(grpcUri);
            var client = new InferenceService.InferenceServiceClient(channel);
            var e = await Fails(() => client.TokenizeAsync(new TokenizeRequest { Text = "x" }, Options()).ResponseAsync);
            Assert.Equal(StatusCode.Unauthenticated, e.StatusCode);
            e = await Fails(() => client.TokenizeAsync(new TokenizeRequest { Text = "x" }, Options("wrong")).ResponseAsync);
            Assert.Equal(StatusCode.Unauthenticated, e.StatusCode);
            using (var call = client.Generate(Greedy("x", 2), Options("wrong")))
            {
                e = await Fails(() => call.ResponseStream.MoveNext(TestContext.Current.CancellationToken));
            }
            Assert.Equal(StatusCode.Unauthenticated, e.StatusCode);

            Assert.NotEmpty((await client.TokenizeAsync(new TokenizeRequest { Text = "x" }, Options("sekrit"))).TokenIds);
            Assert.Equal(2, (await client.CompleteAsync(Greedy("x", 2), Options("sekrit"))).TokenIds.Count);
            var health = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest(), Options());
            Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
        }
        finally
        {
            await app.StopAsync(TestContext.Current.CancellationToken);
            await app.DisposeAsync();
        }
    }
}
