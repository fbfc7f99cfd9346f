using Grpc.Core;
using Grpc.Health.V1;
using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Serving;
using InferenceServer.Tokenization;
using InferenceServer.GrpcApi.V1;
using InferenceServer.Server.Hosting;
using InferenceServer.Server.Settings;
using InferenceServer.TestSupport;
using static InferenceServer.Server.Tests.Grpc.GrpcTestSupport;

namespace InferenceServer.Server.Tests.Grpc;

/// <summary>Loading (UNAVAILABLE, health NOT_SERVING) and a full queue (RESOURCE_EXHAUSTED), through a stand-in engine.</summary>
public sealed class GrpcFakeEngineTests
{
    [Fact]
    public async Task Loading_is_unavailable_and_a_full_queue_is_resource_exhausted()
    {
        var (tokenizer, config) = TokenizerLoader.Load(RepoPaths.TinyLlama);
        var engine = new StandInEngine(tokenizer, config) { Load = new EngineLoad(0, 3, 1, 1, 16) };
        var started = await ServerFixture.Start(engine, new ServerSettings());
        await using var app = started.App;
        var channel = Channel(started.GrpcUri);
        var client = new InferenceService.InferenceServiceClient(channel);
        var health = new Health.HealthClient(channel);

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, (await health.CheckAsync(new HealthCheckRequest(), Options())).Status);
        var e = await Fails(() => client.CompleteAsync(Greedy("hi", 2), Options()).ResponseAsync);
        Assert.Equal(StatusCode.Unavailable, e.StatusCode);
        Assert.Contains("loading", e.Status.Detail);
        // GetLoad answers while loading, so a router can watch the server come up.
        var load = await client.GetLoadAsync(new GetLoadRequest(), Options());
        Assert.False(load.Ready);
        Assert.Equal(3, load.Waiting);

        engine.Ready = true;
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await health.CheckAsync(new HealthCheckRequest(), Options())).Status);
        e = await Fails(() => client.CompleteAsync(Greedy("hi", 2), Options()).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
        Assert.Contains("capacity", e.Status.Detail);
        using (var call = client.Generate(Greedy("hi", 2), Options()))
        {
            e = await Fails(() => call.ResponseStream.MoveNext(TestContext.Current.CancellationToken));
        }
        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
        Assert.NotEmpty((await client.TokenizeAsync(new TokenizeRequest { Text = "hi" }, Options())).TokenIds);
        await app.StopAsync(TestContext.Current.CancellationToken);
    }
}
