namespace InferenceServer.Server.Observability;

/// <summary>
/// Names of the instruments on the "InferenceServer" meter, as Prometheus sees them at /metrics. vLLM's
/// <c>vllm:NAME</c> is <c>inference_NAME</c> here (OpenTelemetry instrument names cannot hold ':').
/// The Prometheus exporter appends <c>_seconds</c> for unit "s" and <c>_total</c> to counters; the constants are
/// the instrument names, chosen so that the exposed names are exactly those in docs/observability.md.
/// </summary>
public static class MetricNames
{
    public const string Meter = "InferenceServer";
    public const string Prefix = "inference_";

    /// <summary>Label on every engine series: the served model name (vLLM's <c>model_name</c>).</summary>
    public const string ModelLabel = "model_name";

    // Histograms (seconds; unit "s", names already end in _seconds so the exporter adds nothing).
    public const string TimeToFirstToken = Prefix + "time_to_first_token_seconds";
    public const string TimePerOutputToken = Prefix + "time_per_output_token_seconds";
    public const string E2eLatency = Prefix + "e2e_request_latency_seconds";
    public const string QueueTime = Prefix + "request_queue_time_seconds";
    public const string PrefillTime = Prefix + "request_prefill_time_seconds";
    public const string DecodeTime = Prefix + "request_decode_time_seconds";

    // Histograms (token counts; no unit).
    public const string RequestPromptTokens = Prefix + "request_prompt_tokens";
    public const string RequestGenerationTokens = Prefix + "request_generation_tokens";
    public const string IterationTokens = Prefix + "iteration_tokens_total";

    // Gauges.
    public const string Running = Prefix + "num_requests_running";
    public const string Waiting = Prefix + "num_requests_waiting";
    public const string KvCacheUsage = Prefix + "kv_cache_usage_perc";
    public const string KvBlocksTotal = Prefix + "kv_blocks_total";
    public const string KvBlocksFree = Prefix + "kv_blocks_free";
    public const string KvBlockSize = Prefix + "kv_block_size";
    public const string CacheConfigInfo = Prefix + "cache_config_info";
    public const string ParallelConfigInfo = Prefix + "parallel_config_info";
    public const string WeightBytesPerRank = Prefix + "weight_bytes_per_rank";
    public const string KvCacheBytesPerRank = Prefix + "kv_cache_bytes_per_rank";

    // Counters: the exporter appends _total, so these are exposed as e.g. inference_prompt_tokens_total.
    public const string PromptTokens = Prefix + "prompt_tokens";
    public const string GenerationTokens = Prefix + "generation_tokens";
    public const string PrefixCacheQueries = Prefix + "prefix_cache_queries";
    public const string PrefixCacheHits = Prefix + "prefix_cache_hits";
    public const string Preemptions = Prefix + "num_preemptions";
    public const string OutOfMemorySteps = Prefix + "out_of_memory_steps";
    public const string AdmissionRejections = Prefix + "admission_rejections";
    public const string RequestSuccess = Prefix + "request_success";
    public const string HttpErrors = Prefix + "http_errors";
    public const string GrpcErrors = Prefix + "grpc_errors";
}
