using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Reflection.V1Alpha;
using InferenceServer.GrpcApi.V1;
using static InferenceServer.Server.Tests.Grpc.GrpcTestSupport;

namespace InferenceServer.Server.Tests.Grpc;

/// <summary>Every InferenceService call, health and reflection, through Grpc.Net.Client over h2c on 127.0.0.1.</summary>
public sealed class GrpcApiTests(ServerFixture server)
{
    private InferenceService.InferenceServiceClient Client() => new(Channel(server.GrpcUri));

    [Fact]
    public async Task Generate_streams_tokens_then_a_final_message_that_matches_complete()
    {
        var client = Client();
        var request = Greedy("The film was", 12);
        request.Sampling.Logprobs = 2;
        var messages = new List<GenerateResponse>();
        using (var call = client.Generate(request, Options()))
        {
            await foreach (var m in call.ResponseStream.ReadAllAsync(TestContext.Current.CancellationToken)) messages.Add(m);
        }
        // One message per engine step, only the last one finished.
        Assert.True(messages.Count >= 12);
        Assert.All(messages[..^1], m => Assert.Null(m.Finish));
        var finish = messages[^1].Finish;
        Assert.Equal(InferenceServer.GrpcApi.V1.FinishReason.Length, finish.Reason);
        Assert.Equal(12, finish.Usage.CompletionTokens);
        Assert.Equal(finish.Usage.PromptTokens + 12, finish.Usage.TotalTokens);
        var ids = messages.SelectMany(m => m.TokenIds).ToList();
        Assert.Equal(12, ids.Count);
        var logprobs = messages.SelectMany(m => m.Logprobs).ToList();
        Assert.Equal(ids, logprobs.Select(l => l.TokenId));
        Assert.All(logprobs, l => Assert.Equal(2, l.Top.Count));

        var complete = await client.CompleteAsync(request, Options());
        Assert.Equal(ids, complete.TokenIds);
        Assert.Equal(string.Concat(messages.Select(m => m.Text)), complete.Text);
        Assert.Equal(finish.Usage, complete.Finish.Usage);
        Assert.Equal(12, complete.Logprobs.Count);
    }

    [Fact]
    public async Task Complete_stops_on_a_stop_string_and_names_it()
    {
        // Greedy "The jury said that" continues "he was not able to do anything ..." (reference.json).
        var request = Greedy("The jury said that", 24);
        request.Sampling.Stop.Add("able");
        var r = await Client().CompleteAsync(request, Options());
        Assert.Equal(InferenceServer.GrpcApi.V1.FinishReason.Stop, r.Finish.Reason);
        Assert.Equal("able", r.Finish.StopString);
        Assert.DoesNotContain("able", r.Text);
        Assert.EndsWith("not ", r.Text);
    }

    [Fact]
    public async Task Tokenize_and_detokenize_round_trip()
    {
        var client = Client();
        var t = await client.TokenizeAsync(new TokenizeRequest { Text = "The jury said that" }, Options());
        Assert.Equal([1, 349, 447, 1263, 616, 329], t.TokenIds);
        Assert.Equal(6, t.Count);
        Assert.Equal(256, t.MaxModelLen);
        var noBos = await client.TokenizeAsync(new TokenizeRequest { Text = "The jury said that", AddSpecialTokens = false }, Options());
        Assert.Equal(t.TokenIds.Skip(1), noBos.TokenIds);

        var d = new DetokenizeRequest { TokenIds = { t.TokenIds } };
        Assert.Equal("<s> The jury said that", (await client.DetokenizeAsync(d, Options())).Text);
        d.SkipSpecialTokens = true;
        Assert.Equal("The jury said that", (await client.DetokenizeAsync(d, Options())).Text);
    }

    [Fact]
    public async Task ModelInfo_and_GetLoad_describe_the_server()
    {
        var client = Client();
        var info = await client.ModelInfoAsync(new ModelInfoRequest(), Options());
        Assert.Equal(ServerFixture.Model, info.Model);
        Assert.Equal("LlamaForCausalLM", info.Architecture);
        Assert.Equal("float32", info.Dtype);
        Assert.Equal("none", info.Quantization);
        Assert.Equal(256, info.MaxModelLen);
        Assert.Equal(server.Engine.Config.VocabSize, info.VocabSize);
        Assert.Contains(2, info.EosTokenIds);
        Assert.Equal(1, info.BosTokenId);

        var load = await client.GetLoadAsync(new GetLoadRequest(), Options());
        Assert.True(load.Ready);
        Assert.Equal(256, load.KvBlocksTotal);
        Assert.InRange(load.KvBlocksFree, 0, 256);
        Assert.True(load.BlockSize > 0);
        Assert.InRange(load.KvCacheUsage, 0, 1);
    }

    [Fact]
    public async Task Health_is_serving_and_reflection_lists_the_services()
    {
        var channel = Channel(server.GrpcUri);
        var health = new Health.HealthClient(channel);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await health.CheckAsync(new HealthCheckRequest(), Options())).Status);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving,
            (await health.CheckAsync(new HealthCheckRequest { Service = "inference.v1.InferenceService" }, Options())).Status);

        using var call = new ServerReflection.ServerReflectionClient(channel).ServerReflectionInfo(Options());
        await call.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" }, TestContext.Current.CancellationToken);
        await call.RequestStream.CompleteAsync();
        Assert.True(await call.ResponseStream.MoveNext(TestContext.Current.CancellationToken));
        var names = call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToList();
        Assert.Contains("inference.v1.InferenceService", names);
        Assert.Contains("grpc.health.v1.Health", names);
        // v1 for current grpcurl and grpcui, v1alpha for older tools.
        Assert.Contains("grpc.reflection.v1.ServerReflection", names);
        Assert.Contains("grpc.reflection.v1alpha.ServerReflection", names);

        // Reflection also serves the schema, so grpcurl can build requests without the .proto file.
        using var file = new ServerReflection.ServerReflectionClient(channel).ServerReflectionInfo(Options());
        await file.RequestStream.WriteAsync(new ServerReflectionRequest { FileContainingSymbol = "inference.v1.InferenceService" }, TestContext.Current.CancellationToken);
        await file.RequestStream.CompleteAsync();
        Assert.True(await file.ResponseStream.MoveNext(TestContext.Current.CancellationToken));
        var proto = file.ResponseStream.Current.FileDescriptorResponse.FileDescriptorProto[0].ToStringUtf8();
        Assert.Contains("inference.proto", proto);
    }

    [Fact]
    public async Task The_rest_port_keeps_working_beside_grpc()
    {
        var (status, body, _) = await Http.Post(server.Http, "v1/completions", "{\"prompt\": \"Hi\", \"max_tokens\": 2}");
        Assert.Equal(200, status);
        Assert.NotNull(body!["choices"]);
        Assert.NotEqual(server.BaseUri.Port, server.GrpcUri.Port);
    }
}
