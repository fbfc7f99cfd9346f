using InferenceServer.Engine.Loading;
using InferenceServer.Tokenization;

using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Requests;

namespace InferenceServer.Engine.Serving;

/// <summary>Raised by <see cref="IInferenceEngine.Submit"/> when the waiting queue is full (HTTP 429, gRPC RESOURCE_EXHAUSTED).</summary>
public sealed class QueueFullException(string message) : Exception(message);

/// <summary>
/// The serving engine: one thread owns the device and steps the scheduler. Requests enter through
/// <see cref="Submit"/>; each gets its own output stream. Cancelling the token aborts the request and frees its
/// KV blocks at the next step.
/// </summary>
public interface IInferenceEngine
{
    ModelConfig Config { get; }

    /// <summary>The dtype the model's activations and unquantized weights run in.</summary>
    TorchSharp.torch.ScalarType Dtype { get; }

    /// <summary>Counters the engine thread updates (steps, finishes, preemptions, prefix-cache hits).</summary>
    EngineStats Stats { get; }

    /// <summary>Receives per-request timings and per-step counts (metrics, traces); may be set after start (read per call).</summary>
    IEngineObserver? Observer { get; set; }
    ITokenizer Tokenizer { get; }
    TokenizerConfig TokenizerConfig { get; }

    /// <summary>Longest prompt + output the engine accepts, in tokens.</summary>
    int MaxModelLen { get; }

    /// <summary>True once the model is loaded and a warm-up step has run.</summary>
    bool IsReady { get; }

    /// <summary>Queues a request. Throws <see cref="QueueFullException"/> when the queue is full and
    /// <see cref="ArgumentException"/> (with ParamName) when the request cannot be served (too long, bad ids).</summary>
    IAsyncEnumerable<GenerationOutput> Submit(GenerationRequest request, CancellationToken cancellationToken);

    EngineLoad GetLoad();

    /// <summary>The tensor-parallel size and one rank's memory.</summary>
    ParallelInfo Parallel => new(1, 0, 0);
}
