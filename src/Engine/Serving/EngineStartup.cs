using System.Diagnostics;
using InferenceServer.Engine.Executor;
using InferenceServer.Engine.Kernels;
using InferenceServer.Engine.KvCache;
using InferenceServer.Engine.Models;

namespace InferenceServer.Engine.Serving;

/// <summary>The engine's start-up steps after sizing, with the log lines that say what each one did.</summary>
internal static class EngineStartup
{
    /// <param name="group">The multi-rank executor's group size, or null for the single-device executor.</param>
    /// <returns>The parallel size and one rank's memory, as the log states it.</returns>
    public static ParallelInfo LogPool(ICausalLM model, int? group, int blocks, int blockSize, int maxModelLen, Action<string> log)
    {
        var c = model.Config;
        long kvBytes = KvCachePool.BytesPerBlock(c.NumLayers, blockSize, model.KvHeads, c.HeadDim, model.Dtype) * blocks;
        int tensorParallelSize = group ?? 1;
        var info = new ParallelInfo(tensorParallelSize, model.LinearWeightBytes, kvBytes);
        if (blocks * blockSize < maxModelLen)
            log($"warning: the KV pool of {blocks} blocks holds {blocks * blockSize} tokens, less than --max-model-len {maxModelLen}; long requests will be refused. Raise --kv-cache-space / --gpu-memory-utilization or lower --max-model-len.");
        log($"linear-layer weights: {model.LinearWeightBytes / (double)(1 << 30):F2} GiB (quantized layers in their packed form)");
        log($"KV cache: {blocks} blocks of {blockSize} tokens ({(long)blocks * blockSize} tokens, " +
            $"{kvBytes / (1 << 20)} MiB{(tensorParallelSize > 1 ? " per rank" : "")})");
        if (group is not null)
            log($"tensor parallel: {tensorParallelSize} ranks; per rank {info.WeightBytesPerRank / (double)(1 << 20):F1} MiB of linear-layer weights, " +
                $"{model.KvHeads} of {c.NumKvHeads} KV heads, {kvBytes / (double)(1 << 20):F1} MiB of KV cache");
        if (model.Device.type == TorchSharp.DeviceType.CUDA && model.Kernels is null)
        {
            var why = !NativeKernels.TakesHeadDim(c.HeadDim)
                ? $"head_dim {c.HeadDim} is not a multiple of 8 up to {NativeKernels.MaxHeadDim}, which its attention kernels need"
                : NativeKernels.TryGet(out var reason) is null ? reason : "the model was built without it";
            log($"CUDA without the native kernels ({why}): eager gather attention, no CUDA graphs");
        }
        return info;
    }

    /// <summary>On the engine thread: a warm-up pass, then the decode graphs unless --enforce-eager.</summary>
    public static void WarmUpAndCapture(IExecutor executor, ICausalLM model, EngineOptions options, int maxModelLen, Action<string> log)
    {
        executor.WarmUp();
        if (model.Kernels is null || options.EnforceEager) return;
        var clock = Stopwatch.StartNew();
        var sizes = executor.CaptureGraphs(options.Scheduler.MaxNumSeqs, maxModelLen);
        log($"captured CUDA graphs for decode batch sizes {string.Join(",", sizes)} in {clock.Elapsed.TotalSeconds:F1} s");
    }
}
