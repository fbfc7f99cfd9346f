namespace InferenceServer.Engine.Serving;

/// <summary>How the served model is split, and what one rank holds (for /v1/models, gRPC ModelInfo and /metrics).</summary>
/// <param name="TensorParallelSize">--tensor-parallel-size: ranks that share every layer.</param>
/// <param name="WeightBytesPerRank">Bytes of one rank's linear-layer weights (quantized or not; embeddings and lm_head excluded).</param>
/// <param name="KvCacheBytesPerRank">Bytes of one rank's KV pool (0 before the engine starts).</param>
public sealed record ParallelInfo(int TensorParallelSize, long WeightBytesPerRank, long KvCacheBytesPerRank);
