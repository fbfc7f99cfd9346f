using InferenceServer.Engine.Scheduling;

using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Requests;

namespace InferenceServer.Engine.Serving;

/// <summary>Engine settings, named after vLLM's flags where one exists.</summary>
public sealed record EngineOptions
{
    /// <summary>--max-model-len: prompt + output tokens per request. Null = the model's max_position_embeddings.</summary>
    public int? MaxModelLen { get; init; }

    /// <summary>--block-size: tokens per KV-cache block.</summary>
    public int BlockSize { get; init; } = 16;

    /// <summary>--num-kv-blocks: an explicit pool size; otherwise it follows from the memory settings below.</summary>
    public int? NumKvBlocks { get; init; }

    /// <summary>--kv-cache-space (GiB), the CPU pool size (vLLM's VLLM_CPU_KVCACHE_SPACE).</summary>
    public double CpuKvCacheSpaceGiB { get; init; } = 1.0;

    /// <summary>--gpu-memory-utilization: fraction of GPU memory the engine may use, KV pool included.</summary>
    public double GpuMemoryUtilization { get; init; } = 0.9;

    /// <summary>--enable-prefix-caching / --no-enable-prefix-caching: share full KV blocks between requests with the same prefix.</summary>
    public bool EnablePrefixCaching { get; init; } = true;

    /// <summary>--enforce-eager: never replay decode steps from CUDA graphs.</summary>
    public bool EnforceEager { get; init; }

    /// <summary>
    /// --async-scheduling / --no-async-scheduling: launch each step before the previous step's tokens reach the host,
    /// so the host's per-step work overlaps the device's. Null = on where the native CUDA kernels run, off on CPU.
    /// </summary>
    public bool? AsyncScheduling { get; init; }

    public SchedulerOptions Scheduler { get; init; } = new();
}
