using System.Diagnostics;

namespace InferenceServer.TestSupport;

/// <summary>
/// Polling with both a time limit and a poll count: a condition that never comes true fails loudly (a
/// <see cref="TimeoutException"/> naming what was awaited, how long and how many times it was checked, and what the
/// last check saw) instead of letting the caller go on, or hang.
/// </summary>
public static class Waits
{
    /// <summary>
    /// Calls <paramref name="probe"/> every <paramref name="interval"/> (default 50 ms) until <paramref name="done"/>
    /// accepts its result; returns that result. Each probe gets a token cancelled at the deadline, so a probe that
    /// hangs cannot stretch the wait; a probe that throws counts as "not yet" (its exception is reported if time runs out).
    /// </summary>
    public static async Task<T> UntilAsync<T>(string what, TimeSpan timeout, Func<CancellationToken, Task<T>> probe, Func<T, bool> done,
        TimeSpan? interval = null, Func<T, string>? describe = null, CancellationToken cancellationToken = default)
    {
        if (timeout < TimeSpan.Zero) timeout = TimeSpan.Zero; // a caller's remaining budget may already be spent: check once
        var pause = interval ?? TimeSpan.FromMilliseconds(50);
        // The count bound: enough polls to fill the time limit, and never more.
        long maxPolls = Math.Max(1, (long)Math.Ceiling(timeout / pause) + 1);
        var clock = Stopwatch.StartNew();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        string last = "no check completed";
        long polls = 0;
        while (polls < maxPolls)
        {
            polls++;
            try
            {
                var value = await probe(deadline.Token);
                if (done(value)) return value;
                last = describe?.Invoke(value) ?? value?.ToString() ?? "null";
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested)
            {
                cancellationToken.ThrowIfCancellationRequested();
                break;
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                last = $"{e.GetType().Name}: {e.Message}";
            }
            if (clock.Elapsed >= timeout) break;
            try { await Task.Delay(pause, deadline.Token); }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested) { break; }
        }
        throw new TimeoutException($"{what}: not so after waiting {clock.Elapsed.TotalSeconds:F1} s (limit {timeout.TotalSeconds:F0} s, {polls} checks); last check: {last}");
    }

    /// <summary>Like <see cref="UntilAsync{T}"/> for a yes/no condition.</summary>
    public static Task UntilAsync(string what, TimeSpan timeout, Func<CancellationToken, Task<bool>> condition,
        TimeSpan? interval = null, CancellationToken cancellationToken = default) =>
        UntilAsync(what, timeout, condition, ok => ok, interval, ok => ok ? "true" : "false", cancellationToken);

    /// <summary>
    /// Polls GET <paramref name="baseUri"/>/<paramref name="path"/> until it answers 200 (e.g. the server's /ready, which
    /// is 503 until the engine has loaded and warmed up); throws with the time waited and the last status otherwise.
    /// </summary>
    public static async Task HttpReadyAsync(Uri baseUri, string path, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        using var http = new HttpClient { BaseAddress = baseUri, Timeout = Timeout.InfiniteTimeSpan };
        await UntilAsync($"GET {new Uri(baseUri, path)} answering 200 (readiness)", timeout,
            async ct =>
            {
                using var response = await http.GetAsync(path, ct);
                return (int)response.StatusCode;
            },
            status => status == 200, TimeSpan.FromMilliseconds(100), status => $"HTTP {status}", cancellationToken);
    }
}
