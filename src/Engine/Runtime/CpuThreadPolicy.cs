using TorchSharp;

namespace InferenceServer.Engine.Runtime;

/// <summary>
/// Picks libtorch's intra-op thread count per CPU step. Splitting a small decode step across cores costs more in
/// synchronisation than it saves (tiny-llama decodes 1.6× faster on one thread than on two), while prefills and
/// large batches do gain from every core. The switch point is a step's matmul work.
/// </summary>
public sealed class CpuThreadPolicy(long linearParameters)
{
    /// <summary>Below this many multiply-adds a step runs on one thread.</summary>
    private const double ParallelThresholdFlops = 1e9;

    private readonly int _maxThreads = Math.Max(1, torch.get_num_threads());
    private int _current = -1;

    public void BeforeStep(int numTokens)
    {
        int want = 2.0 * numTokens * linearParameters < ParallelThresholdFlops ? 1 : _maxThreads;
        if (want == _current) return;
        torch.set_num_threads(want);
        _current = want;
    }
}
