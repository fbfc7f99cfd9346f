using System.Text.Json;
using InferenceServer.GrpcApi.V1;
using InferenceServer.TestSupport;
using static InferenceServer.Server.Tests.Grpc.GrpcTestSupport;

namespace InferenceServer.Server.Tests.Grpc;

/// <summary>Both APIs drive the same engine: greedy output through gRPC equals /v1/completions and the HF reference.</summary>
public sealed class GrpcRestParityTests(ServerFixture server)
{
    public static TheoryData<int> Prompts() => [0, 1, 2, 3, 4, 5];

    [Theory]
    [MemberData(nameof(Prompts))]
    public async Task Greedy_grpc_output_equals_rest_output(int index)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoPaths.TinyLlama, "reference.json")));
        var p = doc.RootElement.GetProperty("prompts")[index];
        int[] ids = [.. p.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32())];
        int[] greedy = [.. p.GetProperty("greedy_ids").EnumerateArray().Select(e => e.GetInt32())];

        var (status, body, _) = await Http.Post(server.Http, "v1/completions",
            new { model = ServerFixture.Model, prompt = ids, temperature = 0, ignore_eos = true, max_tokens = 24 });
        Assert.Equal(200, status);
        string restText = body!["choices"]![0]!["text"]!.GetValue<string>();

        var client = new InferenceService.InferenceServiceClient(Channel(server.GrpcUri));
        var request = new GenerateRequest
        {
            TokenIds = new TokenIds { Ids = { ids } },
            Sampling = new SamplingParameters { Temperature = 0, IgnoreEos = true, MaxTokens = 24 },
        };
        var complete = await client.CompleteAsync(request, Options());
        Assert.Equal(restText, complete.Text);
        Assert.Equal(greedy, complete.TokenIds);

        // Text in, too: the server tokenizes it as /v1/completions does (with BOS).
        var byText = await client.CompleteAsync(Greedy(p.GetProperty("text").GetString()!, 24), Options());
        Assert.Equal(greedy, byText.TokenIds);
        Assert.Equal(restText, byText.Text);
    }
}
