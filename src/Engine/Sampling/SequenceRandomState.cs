using TorchSharp;

namespace InferenceServer.Engine.Sampling;

/// <summary>
/// The random stream of one seeded sequence: a <see cref="torch.Generator"/> seeded with the request's seed and
/// advanced only by this sequence's draws (exactly V exponentials per sampled step), so the seed gives the same
/// tokens whatever batch position or batch size the sequence has. The sequence owns it and disposes it when done.
/// </summary>
/// <remarks>
/// The generator is a CPU generator even when the logits live on CUDA: TorchSharp's native
/// <c>THSGenerator_new</c> ignores its device argument and always creates a CPU generator (a TODO in TorchSharp), so
/// a CUDA draw with it would fail. <see cref="ExponentialRace"/> therefore draws seeded rows on the CPU and copies
/// them to the device in one transfer — which also makes a seed give the same noise on CPU and GPU.
/// </remarks>
public sealed class SequenceRandomState(long seed) : IDisposable
{
    private torch.Generator? _generator;
    private bool _disposed;

    public long Seed { get; } = seed;

    /// <summary>A state for <paramref name="parameters"/> when it has a seed, else null (the sampler's shared stream is used).</summary>
    public static SequenceRandomState? For(SamplingParams parameters) =>
        parameters.Seed is long seed ? new SequenceRandomState(seed) : null;

    /// <summary>The CPU generator, created on first use.</summary>
    internal torch.Generator CpuGenerator
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            // unchecked: negative seeds are valid request values; libtorch seeds are uint64.
            return _generator ??= new torch.Generator(unchecked((ulong)Seed), torch.CPU);
        }
    }

    public void Dispose()
    {
        _disposed = true;
        _generator?.Dispose();
        _generator = null;
    }
}
