using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models;
using InferenceServer.Engine.Models.Architectures;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Sampling;
using InferenceServer.Engine.Serving;
using InferenceServer.Engine.Tests.Evaluation;
using InferenceServer.Engine.Tests.Serving;
using InferenceServer.Tokenization;
using InferenceServer.TestSupport;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Tests.Parallel;

/// <summary>
/// The engine core and scheduler, unchanged, driving tiny-llama split over in-process ranks through the
/// <see cref="Executor.MultiRankExecutor"/>: a batch of greedy, seeded, penalised and logprob requests gives the
/// streams the single-device engine gives, with async scheduling on and off (rank 0 samples; the others feed its
/// tokens to the next step).
/// </summary>
public sealed class TensorParallelEngineTests
{
    [Theory]
    [InlineData(1, true)]   // a group of one: the parallel layers and collectives, on one rank
    [InlineData(2, true)]
    [InlineData(4, false)]
    public async Task ShardedEngineStreamsEqualTheSingleDeviceEngine(int size, bool asyncScheduling)
    {
        var requests = Workload();
        var expected = await SingleDevice.Value;
        var (actual, log) = await ServeLogged(size, requests, asyncScheduling);
        for (int i = 0; i < requests.Count; i++)
        {
            var (a, b) = (expected[i], actual[i]);
            Assert.Equal(a.Ids, b.Ids);
            Assert.Equal(a.Text, b.Text);
            Assert.Equal(a.Finish, b.Finish);
            Assert.Equal(a.Logprobs.Select(l => l.TokenId), b.Logprobs.Select(l => l.TokenId));
            Assert.All(a.Logprobs.Zip(b.Logprobs), p => Assert.Equal(p.First.Logprob, p.Second.Logprob, 1e-4f));
        }
        Assert.Contains(log, l => l.StartsWith($"tensor parallel: {size} ranks; per rank", StringComparison.Ordinal));
    }

    /// <summary>The single-device streams, once (async scheduling changes no output: AsyncSchedulingTests).</summary>
    private static readonly Lazy<Task<EngineTestHost.Collected[]>> SingleDevice = new(() => Serve(null, Workload(), asyncScheduling: false));

    private static List<GenerationRequest> Workload()
    {
        var stream = PerplexityTests.LoadReferenceStream();
        var rng = new Random(5);
        return Enumerable.Range(0, 8).Select(i =>
        {
            int[] prompt = [1, .. stream.Skip(rng.Next(0, 90000)).Take(rng.Next(2, 40))];
            var p = (i % 4) switch
            {
                0 => new SamplingParams { Temperature = 0, MaxTokens = 16, IgnoreEos = true },
                1 => new SamplingParams { Temperature = 0.8f, TopK = 40, Seed = i, MaxTokens = 12 },
                2 => new SamplingParams { Temperature = 0, MaxTokens = 10, RepetitionPenalty = 1.3f },
                _ => new SamplingParams { Temperature = 0, MaxTokens = 8, Logprobs = 3, IgnoreEos = true },
            };
            return new GenerationRequest($"r{i}", prompt, p);
        }).ToList();
    }

    private static async Task<EngineTestHost.Collected[]> Serve(int? size, List<GenerationRequest> requests, bool asyncScheduling) =>
        (await ServeLogged(size, requests, asyncScheduling)).Results;

    private static async Task<(EngineTestHost.Collected[] Results, List<string> Log)> ServeLogged(int? size, List<GenerationRequest> requests, bool asyncScheduling)
    {
        var config = ModelConfig.Load(RepoPaths.TinyLlama);
        var modelOptions = new ModelOptions { ModelDir = RepoPaths.TinyLlama, Device = CPU, Dtype = ScalarType.Float32 };
        var (tokenizer, tokenizerConfig) = TokenizerLoader.Load(RepoPaths.TinyLlama);
        var options = new EngineOptions { MaxModelLen = 128, NumKvBlocks = 64, AsyncScheduling = asyncScheduling };
        var log = new List<string>();
        void Log(string s) { lock (log) log.Add(s); }
        using var whole = size is null ? ModelFactory.Load(config, modelOptions) : null;
        using var sharded = size is int n ? ShardedModel.Load(config, modelOptions, n) : null;
        using var engine = sharded is not null
            ? new LlmEngine(sharded, tokenizer, tokenizerConfig, options, Log)
            : new LlmEngine(whole!, tokenizer, tokenizerConfig, options, Log);
        engine.Start();
        var ct = TestContext.Current.CancellationToken;
        var results = await Task.WhenAll(requests.Select(r => EngineTestHost.Collect(engine.Submit(r, ct))))
            .WaitAsync(TimeSpan.FromSeconds(90), ct);
        if (size is int s) Assert.Equal(s, engine.Parallel.TensorParallelSize);
        return (results, log);
    }
}
