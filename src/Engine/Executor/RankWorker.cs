using System.Collections.Concurrent;

namespace InferenceServer.Engine.Executor;

/// <summary>
/// The thread that runs one tensor-parallel rank's runner: work items run in order, one at a time. A rank whose work
/// throws breaks its group (<paramref name="onFailure"/>) at once, so ranks waiting for it in a collective stop too.
/// </summary>
internal sealed class RankWorker : IDisposable
{
    private readonly BlockingCollection<Action> _queue = new();
    private readonly Thread _thread;

    public RankWorker(int rank, Action<Exception> onFailure)
    {
        _thread = new Thread(() =>
        {
            foreach (var work in _queue.GetConsumingEnumerable()) work();
        }) { Name = $"tp-rank-{rank}", IsBackground = true };
        OnFailure = onFailure;
        _thread.Start();
    }

    private Action<Exception> OnFailure { get; }

    public Task<T> Post<T>(Func<T> work)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _queue.Add(() =>
        {
            try
            {
                done.SetResult(work());
            }
            catch (Exception e)
            {
                OnFailure(e);
                done.SetException(e);
            }
        });
        return done.Task;
    }

    public void Dispose()
    {
        _queue.CompleteAdding();
        _thread.Join(TimeSpan.FromSeconds(10));
        _queue.Dispose();
    }
}
