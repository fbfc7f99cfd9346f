using Grpc.Core;
using InferenceServer.GrpcApi.V1;
using static InferenceServer.Server.Tests.Grpc.GrpcTestSupport;

namespace InferenceServer.Server.Tests;

/// <summary>The repetition_penalty bound lives in SamplingParams.Validate, so gRPC refuses the same values as REST.</summary>
public sealed class GrpcRepetitionPenaltyTests(ServerFixture server)
{
    [Theory]
    [InlineData(1e-38f)]
    [InlineData(1e-7f)]
    [InlineData(0f)]
    [InlineData(-1f)]
    public async Task RepetitionPenaltyBelowTheBoundIsInvalidArgumentNamingIt(float value)
    {
        var client = new InferenceService.InferenceServiceClient(Channel(server.GrpcUri));
        var bad = Greedy("Hello", 2);
        bad.Sampling.RepetitionPenalty = value;
        var e = await Fails(() => client.CompleteAsync(bad, Options()).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains("repetition_penalty must be a finite number >= 0.000001", e.Status.Detail);
        Assert.Equal("repetition_penalty", e.Trailers.GetValue("error-param"));
    }
}
