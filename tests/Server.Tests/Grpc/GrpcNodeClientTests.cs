using InferenceServer.TestSupport;

namespace InferenceServer.Server.Tests.Grpc;

/// <summary>A second language built from the same .proto: tests/node/grpc-client.mjs (@grpc/grpc-js + proto-loader).</summary>
public sealed class GrpcNodeClientTests(ServerFixture server)
{
    [Fact]
    public async Task The_node_client_generated_from_the_proto_passes()
    {
        var env = new Dictionary<string, string> { ["GRPC_ADDR"] = $"127.0.0.1:{server.GrpcUri.Port}" };
        var (code, stdout, stderr) = await NodeScript.RunAsync("grpc-client.mjs", env, TimeSpan.FromMinutes(2), TestContext.Current.CancellationToken);
        Assert.True(code == 0, $"exit {code}\nstdout:\n{stdout}\nstderr:\n{stderr}");
        Assert.Contains("ok", stdout);
    }
}
