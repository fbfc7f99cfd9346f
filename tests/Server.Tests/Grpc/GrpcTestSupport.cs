using Grpc.Core;
using Grpc.Net.Client;
using InferenceServer.GrpcApi.V1;
using InferenceServer.TestSupport;

namespace InferenceServer.Server.Tests.Grpc;

internal static class GrpcTestSupport
{
    /// <summary>A channel over cleartext HTTP/2 (h2c) to the server's gRPC port.</summary>
    public static GrpcChannel Channel(Uri uri) => GrpcChannel.ForAddress(uri);

    public static CallOptions Options(string? apiKey = null) => new(
        headers: apiKey is null ? null : new Metadata { { "authorization", "Bearer " + apiKey } },
        deadline: DateTime.UtcNow.AddMinutes(2),
        cancellationToken: TestContext.Current.CancellationToken);

    public static GenerateRequest Greedy(string text, int maxTokens) => new()
    {
        Text = text,
        Sampling = new SamplingParameters { Temperature = 0, IgnoreEos = true, MaxTokens = maxTokens },
    };

    public static async Task<RpcException> Fails(Func<Task> call)
    {
        return await Assert.ThrowsAsync<RpcException>(call);
    }

    /// <summary>
    /// Polls GetLoad until nothing runs or waits and every KV block is free again; throws (with the last load seen and
    /// how long it waited) when that does not happen within <paramref name="timeout"/>.
    /// </summary>
    public static Task<GetLoadResponse> WaitIdle(InferenceService.InferenceServiceClient client, TimeSpan timeout) =>
        Waits.UntilAsync("the engine idle (GetLoad: nothing running or waiting, every KV block free)", timeout,
            async ct => await client.GetLoadAsync(new GetLoadRequest(), Options().WithCancellationToken(ct)),
            load => load.Running == 0 && load.Waiting == 0 && load.KvBlocksFree == load.KvBlocksTotal,
            TimeSpan.FromMilliseconds(20),
            load => $"{load.Running} running, {load.Waiting} waiting, {load.KvBlocksFree}/{load.KvBlocksTotal} KV blocks free",
            TestContext.Current.CancellationToken);
}
