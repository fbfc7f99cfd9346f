using System.Runtime.ExceptionServices;

namespace InferenceServer.TestSupport;

/// <summary>
/// Runs one property case on its own thread with a time limit, so a hang fails the property (naming the input)
/// instead of the test run. A case that times out keeps running in the background; the property fails anyway.
/// </summary>
public static class BoundedCase
{
    /// <summary>Generous for inputs of a few KB: every case here takes milliseconds.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    /// <summary>
    /// CsCheck's seed for the first iteration (the other iterations are random). A failure prints the seed of the
    /// shrunk case; set CsCheck_Seed (environment) or this constant to it to replay it.
    /// </summary>
    public const string Seed = "0000001dfTU1";

    public static void Run(string input, Action body) => Run(input, () =>
    {
        body();
        return Task.CompletedTask;
    });

    public static void Run(string input, Func<Task> body)
    {
        var task = Task.Run(body);
        bool done;
        try
        {
            done = task.Wait(Timeout);
        }
        catch (AggregateException e) when (e.InnerExceptions.Count == 1)
        {
            ExceptionDispatchInfo.Capture(e.InnerException!).Throw();
            throw;
        }
        if (!done) throw new TimeoutException($"no result within {Timeout.TotalSeconds} s for input {input}");
    }
}
