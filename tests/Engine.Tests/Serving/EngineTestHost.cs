using InferenceServer.Engine.Models.Architectures;
using InferenceServer.Engine.Models;
using InferenceServer.Engine.Sampling;
using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Serving;
using InferenceServer.Tokenization;
using InferenceServer.TestSupport;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Tests.Serving;

/// <summary>Starts a real engine on tiny-llama (fp32, CPU) and collects requests' outputs.</summary>
public static class EngineTestHost
{
    public static LlmEngine Start(EngineOptions options)
    {
        var model = ModelFactory.Load(new ModelOptions { ModelDir = RepoPaths.TinyLlama, Device = CPU, Dtype = ScalarType.Float32 });
        var (tokenizer, config) = TokenizerLoader.Load(RepoPaths.TinyLlama);
        var engine = new LlmEngine(model, tokenizer, config, options);
        engine.Start();
        return engine;
    }

    public static SamplingParams Greedy(int maxTokens) => new() { Temperature = 0, MaxTokens = maxTokens, IgnoreEos = true };

    /// <summary>What a request's stream delivered: its ids and text, how it finished, its usage and per-token logprobs.</summary>
    public sealed record Collected(List<int> Ids, string Text, FinishReason? Finish, GenerationUsage? Usage, List<OutputLogprob> Logprobs);

    public static async Task<Collected> Collect(IAsyncEnumerable<GenerationOutput> stream)
    {
        var ids = new List<int>();
        var logprobs = new List<OutputLogprob>();
        var text = new System.Text.StringBuilder();
        FinishReason? finish = null;
        GenerationUsage? usage = null;
        await foreach (var o in stream)
        {
            ids.AddRange(o.TokenIds);
            text.Append(o.TextDelta);
            if (o.Logprobs is { } lp) logprobs.AddRange(lp);
            finish ??= o.Finish;
            usage ??= o.Usage;
        }
        return new Collected(ids, text.ToString(), finish, usage, logprobs);
    }

    public static async Task WaitUntil(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("condition not reached in time");
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
    }
}
