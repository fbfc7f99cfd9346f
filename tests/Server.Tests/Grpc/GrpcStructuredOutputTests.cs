using System.Text.Json;
using Grpc.Core;
using InferenceServer.GrpcApi.V1;
using Json.Schema;
using static InferenceServer.Server.Tests.Grpc.GrpcTestSupport;

namespace InferenceServer.Server.Tests.Grpc;

/// <summary>The structured-output fields of SamplingParameters over gRPC, on the real server and tiny-llama.</summary>
public sealed class GrpcStructuredOutputTests(ServerFixture server)
{
    private InferenceService.InferenceServiceClient Client() => new(Channel(server.GrpcUri));

    private static GenerateRequest Sampled(int seed, int maxTokens) => new()
    {
        Text = "Output:",
        Sampling = new SamplingParameters { Temperature = 1, Seed = seed, MaxTokens = maxTokens },
    };

    [Fact]
    public async Task Guided_json_regex_choice_and_json_object_hold()
    {
        var schema = JsonSchema.FromText(StructuredOutputsClientTests.PersonSchema);
        for (int seed = 0; seed < 3; seed++)
        {
            var request = Sampled(seed, 140);
            request.Sampling.GuidedJson = StructuredOutputsClientTests.PersonSchema;
            var r = await Client().CompleteAsync(request, Options());
            Assert.Equal(GrpcApi.V1.FinishReason.Stop, r.Finish.Reason);
            using var doc = JsonDocument.Parse(r.Text);
            Assert.True(schema.Evaluate(doc.RootElement).IsValid, r.Text);

            request = Sampled(seed, 24);
            request.Sampling.GuidedRegex = "[a-c]{2,4}!";
            Assert.Matches("^[a-c]{2,4}!$", (await Client().CompleteAsync(request, Options())).Text);

            request = Sampled(seed, 24);
            request.Sampling.GuidedChoice.Add(["left", "leftmost", "right"]);
            Assert.Contains((await Client().CompleteAsync(request, Options())).Text, new[] { "left", "leftmost", "right" });

            request = Sampled(seed, 60);
            request.Sampling.JsonObject = true;
            var o = await Client().CompleteAsync(request, Options());
            using var obj = JsonDocument.Parse(o.Text);
            Assert.Equal(JsonValueKind.Object, obj.RootElement.ValueKind);
        }
    }

    [Fact]
    public async Task Unsupported_keyword_and_two_constraints_are_invalid_argument()
    {
        var request = Sampled(0, 8);
        request.Sampling.GuidedJson = """{"type":"string","format":"email"}""";
        var e = await Fails(() => Client().CompleteAsync(request, Options()).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("format", e.Status.Detail);

        request = Sampled(0, 8);
        request.Sampling.GuidedRegex = "a";
        request.Sampling.JsonObject = true;
        e = await Fails(() => Client().CompleteAsync(request, Options()).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
    }
}
