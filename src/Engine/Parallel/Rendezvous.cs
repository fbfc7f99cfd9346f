namespace InferenceServer.Engine.Parallel;

/// <summary>
/// A reusable barrier for the in-process ranks of a <see cref="ThreadCommunicator"/> group that can be broken: a rank
/// that fails calls <see cref="Fail"/>, and every rank waiting (or arriving later) gets an exception instead of
/// waiting forever for a partner that will never come. A wait longer than the timeout breaks it too.
/// </summary>
internal sealed class Rendezvous(int parties, TimeSpan timeout)
{
    private readonly object _gate = new();
    private int _arrived;
    private long _generation;
    private Exception? _broken;

    /// <summary>Blocks until all parties have arrived at this generation.</summary>
    public void Arrive(int rank)
    {
        lock (_gate)
        {
            ThrowIfBroken();
            long generation = _generation;
            if (++_arrived == parties)
            {
                _arrived = 0;
                _generation++;
                Monitor.PulseAll(_gate);
                return;
            }
            var deadline = DateTime.UtcNow + timeout;
            while (_generation == generation)
            {
                ThrowIfBroken();
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero)
                {
                    _broken = new TimeoutException($"tensor-parallel rank {rank} waited {timeout.TotalSeconds:F0} s for the other ranks at a collective");
                    Monitor.PulseAll(_gate);
                    ThrowIfBroken();
                }
                Monitor.Wait(_gate, left);
            }
        }
    }

    /// <summary>Breaks the barrier for every rank (one of them failed); returns the first reason it was broken for.</summary>
    public Exception Fail(Exception reason)
    {
        lock (_gate)
        {
            _broken ??= reason;
            Monitor.PulseAll(_gate);
            return _broken;
        }
    }

    private void ThrowIfBroken()
    {
        if (_broken is { } b)
            throw new InvalidOperationException($"the tensor-parallel group stopped: {b.Message}", b);
    }
}
