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
    /// Loads <paramref name="size"/> ranks in one process, their collectives between threads
    /// (<see cref="ThreadCommunicator"/>); a size the model cannot be split into is refused with the sizes that work.
    /// </summary>
    /// <param name="progress">(layers done, layers total) over all ranks.</param>
    public static ShardedModel Load(ModelConfig config, ModelOptions options, int size, Action<int, int>? progress = null)
    {
        TensorParallelLayout.Validate(config, size);
        var comms = ThreadCommunicator.CreateGroup(size);
        var ranks = new List<ICausalLM>();
        try
        {
            for (int r = 0; r < size; r++)
            {
                int rank = r;
                ranks.Add(ModelFactory.Load(config, options with { Communicator = comms[r] },
                    progress is null ? null : (done, total) => progress(rank * total + done, size * total)));
            }
        }
        catch
        {
            foreach (var m in ranks) m.Dispose();
            throw;
        }
        return new ShardedModel(ranks, comms);
    }

    public void Dispose()
    {
        foreach (var m in Ranks) m.Dispose();
        foreach (var c in Communicators) c.Dispose();
    }
}
