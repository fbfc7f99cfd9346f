using InferenceServer.Engine.Models.Architectures;
using System.Diagnostics;
using InferenceServer.Engine.Models;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Sampling;
using InferenceServer.Engine.Serving;
using InferenceServer.TestSupport;
using InferenceServer.Tokenization;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Tests.Serving;

/// <summary>
/// Detokenization runs on the reading side of each stream, not on the engine thread: one request whose text is slow
/// to decode (a tokenizer stand-in that sleeps whenever the window holds its marker token) must not slow the steps
/// of the others.
/// </summary>
public sealed class SlowDetokenizerTests
{
    private const int Marker = 500;                     // the slow request is forced to emit only this token
    private static readonly TimeSpan Sleep = TimeSpan.FromMilliseconds(250);

    /// <summary>The real tokenizer, except that decoding a window that holds <see cref="Marker"/> takes <see cref="Sleep"/>.</summary>
    private sealed class SlowOnMarker(ITokenizer inner) : ITokenizer
    {
        public int SlowDecodes;
        public int VocabSize => inner.VocabSize;
        public int? BosTokenId => inner.BosTokenId;
        public int? EosTokenId => inner.EosTokenId;
        public IReadOnlySet<int> SpecialTokenIds => inner.SpecialTokenIds;
        public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true) => inner.Encode(text, addSpecialTokens);
        public string? IdToToken(int id) => inner.IdToToken(id);
        public int? TokenToId(string token) => inner.TokenToId(token);

        public string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = true)
        {
            if (ids.Contains(Marker))
            {
                Interlocked.Increment(ref SlowDecodes);
                Thread.Sleep(Sleep);
            }
            return inner.Decode(ids, skipSpecialTokens);
        }
    }

    [Fact]
    public async Task OtherRequestsKeepTheirPaceWhileOneStreamDecodesSlowly()
    {
        var ct = TestContext.Current.CancellationToken;
        var model = ModelFactory.Load(new ModelOptions { ModelDir = RepoPaths.TinyLlama, Device = CPU, Dtype = ScalarType.Float32 });
        var (real, config) = TokenizerLoader.Load(RepoPaths.TinyLlama);
        var tokenizer = new SlowOnMarker(real);
        using var engine = new LlmEngine(model, tokenizer, config, new EngineOptions { MaxModelLen = 256, NumKvBlocks = 64 });
        engine.Start();

        // The slow stream: every token is the marker, so each of its decodes sleeps.
        using var stopSlow = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var slowParams = new SamplingParams { Temperature = 0, MaxTokens = 40, IgnoreEos = true, LogitBias = new Dictionary<int, float> { [Marker] = 100 } };
        int slowTokens = 0;
        var slow = Task.Run(async () =>
        {
            try
            {
                await foreach (var o in engine.Submit(new GenerationRequest("slow", [1, 450, 3996], slowParams), stopSlow.Token))
                    slowTokens += o.TokenIds.Count;
            }
            catch (OperationCanceledException) { }
        }, ct);
        await EngineTestHost.WaitUntil(() => tokenizer.SlowDecodes > 0 || slow.IsCompleted, TimeSpan.FromSeconds(30));
        Assert.False(slow.IsCompleted, $"the slow stream ended after {slowTokens} tokens: {slow.Exception}");

        // Three ordinary streams while it runs: the gaps between their tokens are engine steps, not the slow decodes.
        var gaps = new List<double>();
        var normal = Enumerable.Range(0, 3).Select(i => Task.Run(async () =>
        {
            var clock = Stopwatch.StartNew();
            var ids = new List<int>();
            double last = 0;
            await foreach (var o in engine.Submit(new GenerationRequest($"n{i}", [1, 450, 3996 + i], EngineTestHost.Greedy(24)), ct))
            {
                if (ids.Count > 0) lock (gaps) gaps.Add(clock.Elapsed.TotalMilliseconds - last);
                last = clock.Elapsed.TotalMilliseconds;
                ids.AddRange(o.TokenIds);
            }
            return ids;
        }, ct)).ToArray();
        var outputs = await Task.WhenAll(normal).WaitAsync(TimeSpan.FromMinutes(2), ct);
        int slowSoFar = slowTokens;
        await stopSlow.CancelAsync();
        await slow.WaitAsync(TimeSpan.FromSeconds(30), ct);

        Assert.All(outputs, ids => Assert.Equal(24, ids.Count));
        Assert.All(outputs, ids => Assert.DoesNotContain(Marker, ids));   // only the slow stream decodes slowly
        gaps.Sort();
        double median = gaps[gaps.Count / 2];
        // On the engine thread each step would wait for a slow decode: every gap would be at least the sleep.
        Assert.True(median < Sleep.TotalMilliseconds / 2, $"median gap between tokens {median:F1} ms; a slow decode takes {Sleep.TotalMilliseconds} ms");
        // 72 tokens went out to the others while the slow stream's reader got through only a few of its own.
        Assert.True(slowSoFar < 24, $"the slow stream read {slowSoFar} tokens while the others read 24 each");
    }
}
