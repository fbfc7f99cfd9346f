using TorchSharp;

namespace InferenceServer.Engine.Sampling;

/// <summary>
/// The random stream of one seeded sequence: a <see cref="torch.Generator"/> seeded with the request's seed,
/// created on the logits' device the first time the sequence is sampled and advanced only by this sequence's
/// draws, so the seed gives the same tokens whatever batch position or batch size the sequence has.
/// The sequence owns it for its lifetime and disposes it when it finishes.
/// </summary>
public sealed class SequenceRandomState(long seed) : IDisposable
{
    private torch.Generator? _generator;

    public long Seed { get; } = seed;

    /// <summary>A state for <paramref name="parameters"/> when it has a seed, else null (the sampler's shared stream is used).</summary>
    public static SequenceRandomState? For(SamplingParams parameters) =>
        parameters.Seed is long seed ? new SequenceRandomState(seed) : null;

    /// <summary>The generator, created on <paramref name="device"/> on first use.</summary>
    internal torch.Generator GeneratorOn(torch.Device device)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_generator == null)
        {
            // unchecked: negative seeds are valid request values; libtorch seeds are uint64.
            _generator = new torch.Generator(unchecked((ulong)Seed), device);
            return _generator;
        }
        if (_generator.device.type != device.type || _generator.device.index != device.index)
            throw new InvalidOperationException($"Sequence generator lives on {_generator.device}, logits are on {device}.");
        return _generator;
    }

    private bool _disposed;

    public void Dispose()
    {
        _disposed = true;
        _generator?.Dispose();
        _generator = null;
    }
}
