namespace InferenceServer.Server.Hosting;

/// <summary>
/// How fast admitted generation requests finish, measured over the last <see cref="Window"/>, and the Retry-After it
/// implies for a refused request: the time the requests ahead of it need to drain at that rate, between 1 and 60 s.
/// </summary>
public sealed class DrainRate(TimeProvider clock)
{
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(30);

    /// <summary>Retry-After when nothing finished within the window (no rate to go by).</summary>
    public const int UnknownRateSeconds = 5;

    private readonly Queue<long> _finishes = new();   // timestamps (clock ticks) of finishes within the window
    private readonly long _started = clock.GetTimestamp();
    private readonly Lock _lock = new();

    public void Finished()
    {
        lock (_lock)
        {
            _finishes.Enqueue(clock.GetTimestamp());
            Trim();
        }
    }

    /// <summary>Finished requests per second over the window (or since start, if shorter); 0 when none finished.</summary>
    public double PerSecond
    {
        get
        {
            lock (_lock)
            {
                Trim();
                double seconds = Math.Min(clock.GetElapsedTime(_started).TotalSeconds, Window.TotalSeconds);
                return _finishes.Count == 0 ? 0 : _finishes.Count / Math.Max(seconds, 1);
            }
        }
    }

    /// <summary>Whole seconds for <paramref name="ahead"/> requests to finish at the measured rate, clamped to [1, 60].</summary>
    public int RetryAfterSeconds(double ahead)
    {
        double rate = PerSecond;
        if (rate <= 0) return UnknownRateSeconds;
        return (int)Math.Clamp(Math.Ceiling(Math.Max(ahead, 1) / rate), 1, 60);
    }

    private void Trim()
    {
        while (_finishes.TryPeek(out long t) && clock.GetElapsedTime(t) > Window) _finishes.Dequeue();
    }
}
