using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Sampling;

/// <summary>
/// One step's sampled tokens while they are still on the device: the chosen ids (which the next step may feed to the
/// model without a round trip through the host) and the packed tensor that <see cref="Read"/> brings back. The engine
/// may start the device→host copy early (<see cref="BeginReadback"/>) so that the next step's launch does not wait
/// for it. Owns its tensors.
/// </summary>
public sealed class DeviceSamples : IDisposable
{
    private readonly Tensor _packed;
    private readonly SamplingBatchPlan _plan;
    private readonly IReadOnlyList<SequenceSamplingInput> _rows;
    private Tensor? _host;

    /// <summary>[B] int64 chosen ids on the logits' device, row i for input row i.</summary>
    public Tensor TokenIds { get; }

    internal DeviceSamples(Tensor tokenIds, Tensor packed, SamplingBatchPlan plan, IReadOnlyList<SequenceSamplingInput> rows)
    {
        TokenIds = tokenIds;
        _packed = packed;
        _plan = plan;
        _rows = rows;
    }

    /// <summary>
    /// Makes these samples rank <paramref name="root"/>'s on every rank of a tensor-parallel group (one rank draws, so
    /// a request's seeded generator advances once per step; the others feed and report the same tokens).
    /// </summary>
    public void Broadcast(Parallel.ICommunicator comm, int root)
    {
        comm.Broadcast(TokenIds, root);
        if (_plan.AnyLogprobs) comm.Broadcast(_packed, root);   // otherwise _packed is a view of TokenIds
    }

    /// <summary>
    /// Queues the copy to host memory behind the work already on the device's stream, without waiting for it
    /// (page-locked memory on CUDA). The caller must know the copy finished (a recorded event) before <see cref="Read"/>.
    /// </summary>
    public void BeginReadback()
    {
        if (_host is not null || _packed.device.type == DeviceType.CPU) return;
        using (var pageable = empty(_packed.shape, _packed.dtype, CPU))
            _host = pageable.pin_memory().DetachFromDisposeScope();   // owned here, whatever scope the caller is in
        _host.copy_(_packed, nonBlocking: true);
    }

    /// <summary>The samples on the host; synchronous unless <see cref="BeginReadback"/> ran and has completed.</summary>
    public SampleOutput[] Read()
    {
        if (_host is not null || _packed.device.type == DeviceType.CPU)
            return SampleReadback.Unpack(_host ?? _packed, _plan, _rows);
        using var host = _packed.cpu();
        return SampleReadback.Unpack(host, _plan, _rows);
    }

    public void Dispose()
    {
        TokenIds.Dispose();
        _packed.Dispose();
        _host?.Dispose();
    }
}
