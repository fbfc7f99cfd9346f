using Grpc.Core;
using InferenceServer.Engine.Loading;
using InferenceServer.GrpcApi.V1;
using InferenceServer.TestSupport;
using TorchSharp;
using static InferenceServer.Server.Tests.Grpc.GrpcTestSupport;
using static TorchSharp.torch;

namespace InferenceServer.Server.Tests.Grpc;

/// <summary>n &gt; 1 and prompt logprobs over gRPC, as over REST.</summary>
public sealed class GrpcChoicesTests(ServerFixture server)
{
    private InferenceService.InferenceServiceClient Client() => new(Channel(server.GrpcUri));

    private static GenerateRequest Sampled(int n, long seed) => new()
    {
        Text = "The jury said that",
        Sampling = new SamplingParameters { Temperature = 1, Seed = seed, MaxTokens = 8, IgnoreEos = true, N = n },
    };

    /// <summary>Choice i of a seeded call is the n = 1 call with seed + i; the stream tags each message with its choice.</summary>
    [Fact]
    public async Task N_choices_are_the_seeded_single_calls_and_stream_by_index()
    {
        var client = Client();
        var complete = await client.CompleteAsync(Sampled(3, 7), Options());
        Assert.Equal([0, 1, 2], complete.Choices.Select(c => c.Index));
        for (int i = 0; i < 3; i++)
        {
            var single = await client.CompleteAsync(Sampled(1, 7 + i), Options());
            Assert.Equal(single.TokenIds, complete.Choices[i].TokenIds);
            Assert.Equal(single.Text, complete.Choices[i].Text);
            Assert.Equal(8, complete.Choices[i].Finish.Usage.CompletionTokens);
        }
        // Fields 1-4 are choice 0, as for n = 1 clients.
        Assert.Equal(complete.Choices[0].TokenIds, complete.TokenIds);
        Assert.Equal(complete.Choices[0].Text, complete.Text);
        Assert.NotEqual(complete.Choices[0].TokenIds, complete.Choices[1].TokenIds);

        var messages = new List<GenerateResponse>();
        using (var call = client.Generate(Sampled(3, 7), Options()))
        {
            await foreach (var m in call.ResponseStream.ReadAllAsync(TestContext.Current.CancellationToken)) messages.Add(m);
        }
        for (int i = 0; i < 3; i++)
        {
            var mine = messages.Where(m => m.Index == i).ToList();
            Assert.Equal(complete.Choices[i].TokenIds, mine.SelectMany(m => m.TokenIds));
            Assert.Equal(complete.Choices[i].Text, string.Concat(mine.Select(m => m.Text)));
            Assert.Single(mine, m => m.Finish is not null);
            Assert.NotNull(mine[^1].Finish);
        }
    }

    /// <summary>
    /// Prompt logprobs against transformers: log_softmax of HF's float32 logits for the reference prompt
    /// (src/Assets/tiny-llama/reference_logits.safetensors, prompt0.logits, shape [6, 4096]), token t scored at t-1.
    /// </summary>
    [Fact]
    public async Task Prompt_logprobs_match_transformers_logits()
    {
        int[] ids = [1, 349, 447, 1263, 616, 329]; // reference.json prompt 0, "The jury said that"
        using var file = new SafeTensorsFile(Path.Combine(RepoPaths.TinyLlama, "reference_logits.safetensors"));
        using var logits = file.Read("prompt0.logits", ScalarType.Float32, CPU);
        using var logSoftmax = logits.log_softmax(-1);
        var request = new GenerateRequest { TokenIds = new TokenIds(), Sampling = new SamplingParameters { Temperature = 0, MaxTokens = 1, PromptLogprobs = 3, N = 2 } };
        request.TokenIds.Ids.AddRange(ids);

        var complete = await Client().CompleteAsync(request, Options());
        Assert.Equal(ids, complete.PromptLogprobs.Select(p => p.TokenId));
        Assert.False(complete.PromptLogprobs[0].HasLogprob);
        Assert.Empty(complete.PromptLogprobs[0].Top);
        for (int t = 1; t < ids.Length; t++)
        {
            var p = complete.PromptLogprobs[t];
            float expected = logSoftmax[t - 1, ids[t]].item<float>();
            Assert.True(Math.Abs(expected - p.Logprob) < 1e-3, $"position {t}: HF {expected}, served {p.Logprob}");
            Assert.Equal(3, p.Top.Count);
            Assert.Equal((int)logSoftmax[t - 1].argmax().item<long>(), p.Top[0].TokenId);
            Assert.True(p.Rank >= 1);
        }

        var messages = new List<GenerateResponse>();
        using (var call = Client().Generate(request, Options()))
        {
            await foreach (var m in call.ResponseStream.ReadAllAsync(TestContext.Current.CancellationToken)) messages.Add(m);
        }
        // Once per call, in the first message of choice 0.
        var first = messages.First(m => m.Index == 0);
        Assert.Equal(complete.PromptLogprobs, first.PromptLogprobs);
        Assert.All(messages.Where(m => !ReferenceEquals(m, first)), m => Assert.Empty(m.PromptLogprobs));
    }

    [Theory]
    [InlineData(0, null, "n")]
    [InlineData(17, null, "n")]
    [InlineData(1, 21, "prompt_logprobs")]
    [InlineData(1, -1, "prompt_logprobs")]
    public async Task Out_of_range_n_or_prompt_logprobs_is_invalid_argument(int n, int? promptLogprobs, string field)
    {
        var request = Sampled(n, 1);
        if (promptLogprobs is int p) request.Sampling.PromptLogprobs = p;
        var e = await Fails(() => Client().CompleteAsync(request, Options()).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains(field, e.Status.Detail);
    }
}
