using Grpc.Core;
using Grpc.Net.Client;
using InferenceServer.GrpcApi.V1;

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

    /// <summary>Polls GetLoad until nothing runs or waits and every KV block is free again.</summary>
    public static async Task<GetLoadResponse> WaitIdle(InferenceService.InferenceServiceClient client, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var load = await client.GetLoadAsync(new GetLoadRequest(), Options());
            if ((load.Running == 0 && load.Waiting == 0 && load.KvBlocksFree == load.KvBlocksTotal) || DateTime.UtcNow > deadline) return load;
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
    }
}
