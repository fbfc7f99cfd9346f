using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models;
using InferenceServer.Engine.Models.Architectures;
using InferenceServer.Engine.Serving;
using InferenceServer.GrpcApi.V1;
using InferenceServer.Server.Settings;
using InferenceServer.TestSupport;
using InferenceServer.Tokenization;
using static InferenceServer.Server.Tests.Grpc.GrpcTestSupport;
using static TorchSharp.torch;

namespace InferenceServer.Server.Tests;

/// <summary>
/// The server on tiny-llama split over 2 in-process ranks (--tensor-parallel-size 2): greedy completions and chat
/// completions through the REST API are the very text the single-device server (<see cref="ServerFixture"/>) returns,
/// and /v1/models, gRPC ModelInfo and /metrics report the size and one rank's memory.
/// </summary>
public sealed class TensorParallelServerTests(ServerFixture single) : IAsyncLifetime
{
    private ShardedModel _model = null!;
    private LlmEngine _engine = null!;
    private Microsoft.AspNetCore.Builder.WebApplication _app = null!;
    private HttpClient _http = null!;
    private Uri _grpc = null!;

    public async ValueTask InitializeAsync()
    {
        var options = new ModelOptions { ModelDir = RepoPaths.TinyLlama, Device = CPU, Dtype = ScalarType.Float32 };
        _model = ShardedModel.Load(ModelConfig.Load(RepoPaths.TinyLlama), options, 2);
        var (tokenizer, config) = TokenizerLoader.Load(RepoPaths.TinyLlama);
        _engine = new LlmEngine(_model, tokenizer, config, new EngineOptions { MaxModelLen = 256, NumKvBlocks = 64 });
        _engine.Start();
        Uri uri;
        (_app, uri, _grpc) = await ServerFixture.Start(_engine, new ServerSettings { ServedModelNames = [ServerFixture.Model] });
        _http = new HttpClient { BaseAddress = uri, Timeout = TimeSpan.FromMinutes(2) };
        await Waits.HttpReadyAsync(uri, "ready", ServerFixture.ReadyTimeout);
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _app.DisposeAsync();
        _engine.Dispose();
        _model.Dispose();
    }

    [Fact]
    public async Task Greedy_text_through_the_REST_API_is_the_single_device_text()
    {
        string[] prompts = ["The committee said that", "Once upon a time", "The film was"];
        foreach (var prompt in prompts)
        {
            object body = new { model = ServerFixture.Model, prompt, max_tokens = 24, temperature = 0, ignore_eos = true };
            var (s1, one, _) = await Http.Post(single.Http, "v1/completions", body);
            var (s2, two, _) = await Http.Post(_http, "v1/completions", body);
            Assert.Equal(200, s1);
            Assert.Equal(200, s2);
            Assert.Equal((string?)one!["choices"]![0]!["text"], (string?)two!["choices"]![0]!["text"]);
        }
        object chat = new { model = ServerFixture.Model, messages = new[] { new { role = "user", content = "Name a colour." } }, max_tokens = 16, temperature = 0 };
        var (c1, a, _) = await Http.Post(single.Http, "v1/chat/completions", chat);
        var (c2, b, _) = await Http.Post(_http, "v1/chat/completions", chat);
        Assert.Equal(200, c1);
        Assert.Equal(200, c2);
        Assert.Equal((string?)a!["choices"]![0]!["message"]!["content"], (string?)b!["choices"]![0]!["message"]!["content"]);
    }

    [Fact]
    public async Task Models_ModelInfo_and_metrics_report_the_size_and_one_ranks_memory()
    {
        long weights = _model.Ranks[0].LinearWeightBytes;
        Assert.Equal(single.Engine.Parallel.WeightBytesPerRank / 2, weights);

        var models = System.Text.Json.Nodes.JsonNode.Parse(await _http.GetStringAsync("v1/models", TestContext.Current.CancellationToken));
        var parallel = models!["data"]![0]!["parallel"]!;
        Assert.Equal(2, (int)parallel["tensor_parallel_size"]!);
        Assert.Equal(weights, (long)parallel["weight_bytes_per_rank"]!);
        Assert.True((long)parallel["kv_cache_bytes_per_rank"]! > 0);

        var info = await new InferenceService.InferenceServiceClient(Channel(_grpc)).ModelInfoAsync(new ModelInfoRequest(), Options());
        Assert.Equal(2, info.TensorParallelSize);
        Assert.Equal(weights, info.WeightBytesPerRank);
        Assert.Equal(_engine.Parallel.KvCacheBytesPerRank, info.KvCacheBytesPerRank);

        // /metrics names them; which engine's values it shows depends on which host claimed the process-wide meter
        // first (the shared fixture's), so the values are read from this engine's instruments directly.
        var metrics = await _http.GetStringAsync("metrics", TestContext.Current.CancellationToken);
        Assert.Contains("# TYPE inference_parallel_config_info gauge", metrics);
        Assert.Contains("# TYPE inference_weight_bytes_per_rank gauge", metrics);
        Assert.Contains("# TYPE inference_kv_cache_bytes_per_rank gauge", metrics);
        var seen = new List<(string Name, long Value, string? Size)>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (i, l) => { if (i.Name.Contains("per_rank") || i.Name.Contains("parallel_config")) l.EnableMeasurementEvents(i); };
        listener.SetMeasurementEventCallback<int>((i, v, tags, _) => seen.Add((i.Name, v, Size(tags))));
        listener.SetMeasurementEventCallback<long>((i, v, tags, _) => seen.Add((i.Name, v, Size(tags))));
        listener.Start();
        using (new InferenceServer.Server.Observability.EngineMetrics(_engine, "tiny-llama"))
            listener.RecordObservableInstruments();
        Assert.Contains(("inference_parallel_config_info", 1L, "2"), seen);
        Assert.Contains(("inference_weight_bytes_per_rank", weights, (string?)null), seen);
        Assert.Contains(("inference_kv_cache_bytes_per_rank", _engine.Parallel.KvCacheBytesPerRank, (string?)null), seen);
    }

    private static string? Size(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        foreach (var t in tags)
            if (t.Key == "tensor_parallel_size") return (string?)t.Value;
        return null;
    }
}
