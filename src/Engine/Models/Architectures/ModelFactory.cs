using InferenceServer.Engine.Attention;
using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models.Llama;
using InferenceServer.Engine.Models.Opt;

using InferenceServer.Engine.Models;

namespace InferenceServer.Engine.Models.Architectures;

/// <summary>Builds the model class registered for a config's architecture, from a checkpoint or dummy weights.</summary>
public static class ModelFactory
{
    /// <summary>The native paged kernel when the library is in use (CUDA), else the portable gather path.</summary>
    /// <param name="layout">Which heads this rank holds (all of them with one rank).</param>
    private static IAttentionBackend AttentionFor(ModelConfig c, Parallel.TensorParallelLayout layout, Kernels.NativeKernels? kernels)
    {
        int heads = layout.QueryHeads(c).Count, kvHeads = layout.KvHeads(c).Count;
        return kernels is not null
            ? new PagedCudaAttention(kernels, heads, kvHeads, c.HeadDim, c.SlidingWindow)
            : new GatherAttention(heads, kvHeads, c.HeadDim, c.SlidingWindow);
    }

    public static ICausalLM Load(ModelOptions options, Action<int, int>? progress = null) =>
        Load(ModelConfig.Load(options.ModelDir), options, progress);

    public static ICausalLM Load(ModelConfig config, ModelOptions options, Action<int, int>? progress = null)
    {
        if (options.MaxModelLen is int len)
        {
            // Rotary models compute positions, so a longer window only lengthens the tables; OPT learns one embedding
            // per position, and its checkpoint holds exactly max_position_embeddings of them.
            if (config.IsOpt && len > config.MaxPositionEmbeddings)
                throw new ModelLoadException($"{options.ModelDir}: --max-model-len {len} exceeds the model's max_position_embeddings " +
                    $"({config.MaxPositionEmbeddings}); OPT's learned position table cannot be extended. Use --max-model-len {config.MaxPositionEmbeddings} or less.");
            config = config with { MaxPositionEmbeddings = Math.Max(len, config.MaxPositionEmbeddings) };
        }
        var comm = options.Communicator ?? Parallel.SingleRankCommunicator.Instance;
        if (comm.WorldSize > 1) Parallel.TensorParallelLayout.Validate(config, comm.WorldSize);
        IWeightSource weights;
        Checkpoint? checkpoint = null;
        switch (options.LoadFormat)
        {
            case "dummy":
                weights = new DummyWeightSource(options.Seed);
                break;
            case "auto" or "safetensors":
                checkpoint = new Checkpoint(options.ModelDir);
                weights = new CheckpointWeightSource(checkpoint);
                if (options.WeightTransform is { } transform) weights = transform(weights);
                break;
            default:
                throw new ModelLoadException($"--load-format {options.LoadFormat} is not supported; use auto, safetensors or dummy.");
        }
        try
        {
            // Head sizes the attention kernels cannot take keep the portable paths throughout (the engine's decode
            // metadata and graphs assume the paged kernel).
            var kernels = options.Device.type == TorchSharp.DeviceType.CUDA && options.UseNativeKernels && Kernels.NativeKernels.TakesHeadDim(config.HeadDim)
                ? Kernels.NativeKernels.TryGet(out _)
                : null;
            var ctx = new ModelBuildContext(config, weights, options.Dtype, options.Device, options.Quantization) { Progress = progress, Kernels = kernels, Communicator = comm };
            var attention = AttentionFor(config, ctx.Layout, kernels);
            return config.Architecture switch
            {
                "OPTForCausalLM" => new OptModel(ctx, attention),
                _ => new LlamaModel(ctx, attention),
            };
        }
        finally
        {
            checkpoint?.Dispose();
        }
    }
}
