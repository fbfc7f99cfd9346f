using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Sampling;
using InferenceServer.Engine.Scheduling;
using InferenceServer.Engine.Serving;

namespace InferenceServer.Engine.Tests.Serving;

/// <summary>
/// A KV pool smaller than --max-model-len: a request that could never fit is refused at submission, naming its
/// prompt, max_tokens and the pool; one without max_tokens that fills the pool while alone ends with "length"
/// instead of preempting itself forever and blocking the queue behind it.
/// </summary>
public sealed class PoolSmallerThanContextTests
{
    private const int Blocks = 8, PoolTokens = Blocks * 16;   // 128 tokens, --max-model-len 256

    private static LlmEngine Start(bool asyncScheduling) => EngineTestHost.Start(new EngineOptions
    {
        MaxModelLen = 256,
        NumKvBlocks = Blocks,
        AsyncScheduling = asyncScheduling,
    });

    [Fact]
    public void A_request_whose_max_tokens_cannot_fit_the_pool_is_refused_naming_both()
    {
        using var engine = Start(asyncScheduling: false);
        var e = Assert.Throws<ArgumentException>(() => engine.Submit(new GenerationRequest("big", [1, 450, 396, 292, 338], EngineTestHost.Greedy(200)), TestContext.Current.CancellationToken));
        Assert.Equal("max_tokens", e.ParamName);
        Assert.Contains($"holds {PoolTokens} tokens", e.Message);
        Assert.Contains("prompt (5 tokens) and max_tokens (200) need 205", e.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_request_that_outgrows_the_pool_alone_ends_with_length_and_the_queue_moves_on(bool asyncScheduling)
    {
        var ct = TestContext.Current.CancellationToken;
        using var engine = Start(asyncScheduling);
        var unbounded = new SamplingParams { Temperature = 0, IgnoreEos = true };   // no max_tokens: up to the model length
        var first = EngineTestHost.Collect(engine.Submit(new GenerationRequest("grows", [1, 450, 396, 292, 338], unbounded), ct));
        var behind = EngineTestHost.Collect(engine.Submit(new GenerationRequest("behind", [1, 450, 3997], EngineTestHost.Greedy(20)), ct));
        var results = await Task.WhenAll(first, behind).WaitAsync(TimeSpan.FromMinutes(2), ct);

        var grown = results[0];
        Assert.Equal(FinishReason.Length, grown.Finish);
        // It computed every token the pool holds: 128 in the cache, and the last one sampled from them.
        Assert.Equal(PoolTokens + 1 - 5, grown.Usage!.CompletionTokens);
        Assert.Equal(grown.Usage.CompletionTokens, grown.Ids.Count);
        Assert.Equal(FinishReason.Length, results[1].Finish);
        Assert.Equal(20, results[1].Ids.Count);
        await EngineTestHost.WaitUntil(() => engine.GetLoad() is { Running: 0, Waiting: 0 } l && l.KvBlocksFree == l.KvBlocksTotal, TimeSpan.FromSeconds(5));
    }
}
