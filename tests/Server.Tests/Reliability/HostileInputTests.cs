using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Grpc.Core;
using InferenceServer.GrpcApi.V1;
using InferenceServer.Server.Tests.Grpc;

namespace InferenceServer.Server.Tests.Reliability;

/// <summary>
/// Every row of <see cref="HostileInputCatalogue"/> against the real server: the expected status and error object
/// (gRPC: status code), never a 5xx; then a normal greedy request, whose output must equal the one taken before any
/// hostile input (so no case left state behind: a leaked KV block, a poisoned cache, a stuck queue).
/// </summary>
public sealed class HostileInputTests(ServerFixture server)
{
    private const string Normal = "{\"prompt\": \"The committee\", \"max_tokens\": 6, \"temperature\": 0, \"ignore_eos\": true}";
    private static readonly SemaphoreSlim BaselineLock = new(1, 1);
    private static string? _baseline;

    public static TheoryData<string> Names() => new(HostileInputCatalogue.Cases.Select(c => c.Name));

    [Fact]
    public void The_catalogue_has_at_least_80_cases_with_unique_names()
    {
        Assert.True(HostileInputCatalogue.Cases.Length >= 80, $"{HostileInputCatalogue.Cases.Length} cases");
        Assert.Equal(HostileInputCatalogue.Cases.Length, HostileInputCatalogue.Cases.Select(c => c.Name).Distinct().Count());
        Assert.Contains(HostileInputCatalogue.Cases, c => c.Grpc is not null);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public async Task Hostile_input_gets_its_error_and_the_next_request_is_answered_the_same(string name)
    {
        var baseline = await Baseline();
        var c = HostileInputCatalogue.Cases.Single(x => x.Name == name);
        if (c.Grpc is not null)
        {
            using var channel = GrpcTestSupport.Channel(server.GrpcUri);
            var e = await Assert.ThrowsAsync<RpcException>(() => c.Grpc(new InferenceService.InferenceServiceClient(channel), GrpcTestSupport.Options()));
            Assert.Equal(c.GrpcStatus, e.StatusCode);
            Assert.False(string.IsNullOrWhiteSpace(e.Status.Detail), "the status carries a message");
        }
        else
        {
            var (status, body) = await Send(c);
            Assert.True(status == c.Status, $"{c.Name}: expected {c.Status}, got {status}: {body}");
            if (c.Type is not null)
            {
                var error = JsonNode.Parse(body)!["error"]!;
                Assert.Equal(c.Type, (string?)error["type"]);
                Assert.False(string.IsNullOrWhiteSpace((string?)error["message"]));
                if (c.Param is not null) Assert.Equal(c.Param, (string?)error["param"]);
            }
        }
        Assert.Equal(baseline, await NormalText());
    }

    private async Task<(int Status, string Body)> Send(HostileCase c)
    {
        using var request = new HttpRequestMessage(new HttpMethod(c.Method), c.Path);
        if (c.Raw is not null || c.Json is not null)
        {
            request.Content = new ByteArrayContent(c.Raw ?? Encoding.UTF8.GetBytes(c.Json!));
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(c.ContentType);
        }
        if (c.Header is { } h) request.Headers.TryAddWithoutValidation(h.Name, h.Value);
        using var response = await server.Http.SendAsync(request, TestContext.Current.CancellationToken);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    private async Task<string> NormalText()
    {
        var (status, body, _) = await Http.Post(server.Http, "v1/completions", Normal);
        Assert.Equal(200, status);
        return (string)body!["choices"]![0]!["text"]!;
    }

    private async Task<string> Baseline()
    {
        await BaselineLock.WaitAsync(TestContext.Current.CancellationToken);
        try
        {
            return _baseline ??= await NormalText();
        }
        finally
        {
            BaselineLock.Release();
        }
    }
}
