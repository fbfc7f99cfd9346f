using Grpc.Core;
using InferenceServer.GrpcApi.V1;
using static InferenceServer.Server.Tests.Grpc.GrpcTestSupport;

namespace InferenceServer.Server.Tests.Grpc;

/// <summary>
/// A client that goes away mid-stream (cancel or deadline) aborts its engine request and frees its KV blocks. Runs in
/// <see cref="EngineStateCollection"/> (alone): it asserts the whole engine goes idle, which other tests' requests would blur.
/// </summary>
[Collection(nameof(EngineStateCollection))]
public sealed class GrpcCancelTests(ServerFixture server)
{
    private static GenerateRequest Long() => Greedy("In the morning, the old man", 200);

    [Fact]
    public async Task Cancelling_mid_stream_frees_the_kv_blocks()
    {
        var client = new InferenceService.InferenceServiceClient(Channel(server.GrpcUri));
        Assert.Equal(0, (await WaitIdle(client, TimeSpan.FromSeconds(30))).Running);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        using var call = client.Generate(Long(), cancellationToken: cts.Token);
        for (int i = 0; i < 3; i++) Assert.True(await call.ResponseStream.MoveNext(cts.Token));
        var busy = await client.GetLoadAsync(new GetLoadRequest(), Options());
        Assert.Equal(1, busy.Running);
        Assert.True(busy.KvBlocksFree < busy.KvBlocksTotal);

        cts.Cancel();
        var e = await Fails(() => call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(StatusCode.Cancelled, e.StatusCode);
        var idle = await WaitIdle(client, TimeSpan.FromSeconds(10));
        Assert.Equal((0, 0, idle.KvBlocksTotal), (idle.Running, idle.Waiting, idle.KvBlocksFree));
    }

    [Fact]
    public async Task A_passed_deadline_aborts_the_request()
    {
        var client = new InferenceService.InferenceServiceClient(Channel(server.GrpcUri));
        Assert.Equal(0, (await WaitIdle(client, TimeSpan.FromSeconds(30))).Running);
        // 200 tokens take seconds on CPU; the deadline ends the call well before that.
        var e = await Fails(() => client.CompleteAsync(Long(), deadline: DateTime.UtcNow.AddMilliseconds(300)).ResponseAsync);
        Assert.Equal(StatusCode.DeadlineExceeded, e.StatusCode);
        var idle = await WaitIdle(client, TimeSpan.FromSeconds(10));
        Assert.Equal((0, 0, idle.KvBlocksTotal), (idle.Running, idle.Waiting, idle.KvBlocksFree));
    }
}
