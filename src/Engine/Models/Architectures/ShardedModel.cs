using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Parallel;

namespace InferenceServer.Engine.Models.Architectures;

/// <summary>
/// A model split across the ranks of a tensor-parallel group: one <see cref="ICausalLM"/> per rank, each holding its
/// share of the weights (built with that rank's communicator), in rank order. It owns the models.
/// </summary>
public sealed class ShardedModel : IDisposable
{
    private ShardedModel(IReadOnlyList<ICausalLM> ranks, IReadOnlyList<ICommunicator> communicators)
    {
        Ranks = ranks;
        Communicators = communicators;
    }

    public IReadOnlyList<ICausalLM> Ranks { get; }
    public IReadOnlyList<ICommunicator> Communicators { get; }
    public int Size => Ranks.Count;

    /// <summary>
    /// Loads <paramref name="size"/> ranks in one process: on the CPU their collectives run between threads
    /// (<see cref="ThreadCommunicator"/>); on CUDA rank r lives on cuda:r and the ranks talk through NCCL
    /// (<see cref="NcclCommunicator"/>). A size the model cannot be split into, or more ranks than GPUs, is refused.
    /// Size 1 is a real group of one: the layers take the parallel path with collectives over one rank.
    /// </summary>
    /// <param name="progress">(layers done, layers total) over all ranks.</param>
    public static ShardedModel Load(ModelConfig config, ModelOptions options, int size, Action<int, int>? progress = null)
    {
        TensorParallelLayout.Validate(config, size);
        bool cuda = options.Device.type == TorchSharp.DeviceType.CUDA;
        ICommunicator[] comms = cuda ? CudaGroup(size) : ThreadCommunicator.CreateGroup(size);
        var ranks = new List<ICausalLM>();
        try
        {
            for (int r = 0; r < size; r++)
            {
                int rank = r;
                var device = cuda ? new TorchSharp.torch.Device(TorchSharp.DeviceType.CUDA, r) : options.Device;
                ranks.Add(ModelFactory.Load(config, options with { Communicator = comms[r], Device = device },
                    progress is null ? null : (done, total) => progress(rank * total + done, size * total)));
            }
        }
        catch
        {
            foreach (var m in ranks) m.Dispose();
            foreach (var c in comms) c.Dispose();
            throw;
        }
        return new ShardedModel(ranks, comms);
    }

    private static NcclCommunicator[] CudaGroup(int size)
    {
        var kernels = Kernels.NativeKernels.TryGet(out var why)
            ?? throw new ModelLoadException($"--tensor-parallel-size {size} on CUDA talks through NCCL in the native library, which is not loaded: {why}.");
        int gpus = TorchSharp.torch.cuda.device_count();
        if (gpus < size)
            throw new ModelLoadException($"--tensor-parallel-size {size} puts one rank on each GPU, and this machine has {gpus}; use a size of at most {gpus}.");
        try
        {
            return NcclCommunicator.CreateGroup(kernels, size);
        }
        catch (InvalidOperationException e)
        {
            throw new ModelLoadException($"--tensor-parallel-size {size}: the NCCL group could not be created: {e.Message}");
        }
    }

    public void Dispose()
    {
        foreach (var m in Ranks) m.Dispose();
        foreach (var c in Communicators) c.Dispose();
    }
}
