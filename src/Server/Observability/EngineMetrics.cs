using System.Diagnostics.Metrics;
using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Serving;

namespace InferenceServer.Server.Observability;

/// <summary>
/// The engine's instruments (System.Diagnostics.Metrics), fed by <see cref="IEngineObserver"/> callbacks from the
/// engine thread and by callbacks that read <see cref="IInferenceEngine.GetLoad"/> and <see cref="EngineStats"/>
/// at scrape time. One instance per engine. Every series carries <c>model_name</c> (vLLM's label: the served model
/// name), so dashboards and alerts tell replicas of different models apart.
/// </summary>
public sealed class EngineMetrics : IDisposable
{
    // Bucket bounds sized for this server: sub-millisecond steps on a GPU up to minutes for long CPU generations.
    private static readonly double[] LatencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 0.75, 1, 1.5, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 320, 640];
    private static readonly long[] TokenBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072];

    private readonly Meter _meter = new(MetricNames.Meter);
    private readonly Histogram<double> _ttft, _tpot, _e2e, _queue, _prefill, _decode;
    private readonly Histogram<long> _promptHist, _genHist, _iteration;
    private readonly Counter<long> _promptTokens, _genTokens, _success;
    private readonly KeyValuePair<string, object?> _model;

    /// <param name="engine">Read at scrape time (load, stats), so an engine placeholder that is handed the real engine later works.</param>
    /// <param name="modelName">The served model name, the <c>model_name</c> label of every series.</param>
    public EngineMetrics(IInferenceEngine engine, string modelName)
    {
        KeyValuePair<string, object?> model = new(MetricNames.ModelLabel, modelName);
        _model = model;
        Measurement<T> M<T>(T value) where T : struct => new(value, model);
        long Stat(Func<EngineStats, long> read) => read(engine.Stats);
        Histogram<double> Seconds(string name, string description) => _meter.CreateHistogram(name, "s", description,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });
        Histogram<long> Tokens(string name, string description) => _meter.CreateHistogram<long>(name, null, description,
            advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = TokenBuckets });
        _ttft = Seconds(MetricNames.TimeToFirstToken, "Arrival at the engine to the first output token.");
        _tpot = Seconds(MetricNames.TimePerOutputToken, "Mean time between output tokens after the first, per request.");
        _e2e = Seconds(MetricNames.E2eLatency, "Arrival at the engine to finish.");
        _queue = Seconds(MetricNames.QueueTime, "Arrival to first scheduled.");
        _prefill = Seconds(MetricNames.PrefillTime, "First scheduled to first output token.");
        _decode = Seconds(MetricNames.DecodeTime, "First to last output token.");
        _promptHist = Tokens(MetricNames.RequestPromptTokens, "Prompt tokens per finished request.");
        _genHist = Tokens(MetricNames.RequestGenerationTokens, "Generated tokens per finished request.");
        _iteration = Tokens(MetricNames.IterationTokens, "Tokens fed to the model per engine step.");
        _promptTokens = _meter.CreateCounter<long>(MetricNames.PromptTokens, null, "Prompt tokens of finished requests.");
        _genTokens = _meter.CreateCounter<long>(MetricNames.GenerationTokens, null, "Generated tokens of finished requests.");
        _success = _meter.CreateCounter<long>(MetricNames.RequestSuccess, null, "Finished requests by finished_reason (stop, length, abort).");

        // Gauges are read at scrape time, so they cost nothing on the engine thread.
        _meter.CreateObservableGauge(MetricNames.Running, () => M(engine.GetLoad().Running), null, "Requests in the running batch.");
        _meter.CreateObservableGauge(MetricNames.Waiting, () => M(engine.GetLoad().Waiting), null, "Requests waiting to be scheduled.");
        _meter.CreateObservableGauge(MetricNames.KvCacheUsage, () => M(engine.GetLoad().KvUsage), null, "Fraction of KV-cache blocks in use (0 to 1).");
        _meter.CreateObservableGauge(MetricNames.KvBlocksTotal, () => M(engine.GetLoad().KvBlocksTotal), null, "KV-cache blocks in the pool.");
        _meter.CreateObservableGauge(MetricNames.KvBlocksFree, () => M(engine.GetLoad().KvBlocksFree), null, "Free KV-cache blocks.");
        _meter.CreateObservableGauge(MetricNames.KvBlockSize, () => M(engine.GetLoad().BlockSize), null, "Tokens per KV-cache block.");
        _meter.CreateObservableGauge(MetricNames.CacheConfigInfo, () =>
        {
            var l = engine.GetLoad();
            // vLLM's cache_config_info shape: value 1, configuration in labels (the inference gateway reads block_size/num_gpu_blocks).
            return new Measurement<int>(1, model, new("block_size", l.BlockSize.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                new("num_gpu_blocks", l.KvBlocksTotal.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }, null, "KV-cache configuration as labels.");
        _meter.CreateObservableGauge(MetricNames.ParallelConfigInfo, () => new Measurement<int>(1, model,
            new KeyValuePair<string, object?>("tensor_parallel_size", engine.Parallel.TensorParallelSize.ToString(System.Globalization.CultureInfo.InvariantCulture))),
            null, "Parallel configuration as labels.");
        _meter.CreateObservableGauge(MetricNames.WeightBytesPerRank, () => M(engine.Parallel.WeightBytesPerRank), null, "Bytes of one rank's linear-layer weights.");
        _meter.CreateObservableGauge(MetricNames.KvCacheBytesPerRank, () => M(engine.Parallel.KvCacheBytesPerRank), null, "Bytes of one rank's KV-cache pool.");
        _meter.CreateObservableCounter(MetricNames.Preemptions, () => M(Stat(s => Interlocked.Read(ref s.Preemptions))), null, "Sequences preempted to free KV-cache blocks.");
        _meter.CreateObservableCounter(MetricNames.OutOfMemorySteps, () => M(Stat(s => Interlocked.Read(ref s.OutOfMemorySteps))), null, "Engine steps that ran out of device memory (their requests got 503; serving went on).");
        _meter.CreateObservableCounter(MetricNames.PrefixCacheQueries, () => M(Stat(s => Interlocked.Read(ref s.PrefixCacheQueries))), null, "Prompt tokens looked up in the prefix cache.");
        _meter.CreateObservableCounter(MetricNames.PrefixCacheHits, () => M(Stat(s => Interlocked.Read(ref s.PrefixCacheHits))), null, "Prompt tokens found in the prefix cache.");
    }

    public void RequestFinished(RequestMetrics m)
    {
        var reason = new KeyValuePair<string, object?>("finished_reason", m.Reason.ToString().ToLowerInvariant());
        _success.Add(1, _model, reason);
        _promptTokens.Add(m.PromptTokens, _model);
        _genTokens.Add(m.GenerationTokens, _model);
        _promptHist.Record(m.PromptTokens, _model);
        _genHist.Record(m.GenerationTokens, _model);
        _e2e.Record(m.E2e.TotalSeconds, _model);
        if (m.Queue is { } q) _queue.Record(q.TotalSeconds, _model);
        if (m.Prefill is { } p) _prefill.Record(p.TotalSeconds, _model);
        if (m.Decode is { } d && m.GenerationTokens > 1) _decode.Record(d.TotalSeconds, _model);
        if (m.TimeToFirstToken is { } t) _ttft.Record(t.TotalSeconds, _model);
        if (m.TimePerOutputToken is { } tp) _tpot.Record(tp.TotalSeconds, _model);
    }

    public void Step(StepMetrics m) => _iteration.Record(m.BatchTokens, _model);

    /// <summary>
    /// Adds 0 for every finished_reason under this model's label, the series the dashboard selects, so they exist from
    /// startup (see <see cref="ErrorMetrics.SeedZeros"/>).
    /// </summary>
    public void SeedZeros()
    {
        foreach (var reason in Enum.GetNames<FinishReason>())
            _success.Add(0, _model, new KeyValuePair<string, object?>("finished_reason", reason.ToLowerInvariant()));
    }

    public void Dispose() => _meter.Dispose();
}
