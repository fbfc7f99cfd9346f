using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Runner;
using InferenceServer.Engine.Scheduling;

namespace InferenceServer.Engine.Core;

/// <summary>
/// Out of device memory inside a step (the forward pass, sampling, or the readback of an async step): the step's
/// requests end with <see cref="StepOutOfMemoryException"/> (their KV blocks freed, the runner told to drop them with
/// the next step's <see cref="SchedulerOutput.DroppedRequestIds"/>) and the loop goes on with the requests that
/// were not in it. Preempting them to retry would likely hit the same wall with the same batch; failing them gives the
/// client a 503 it can retry at once. Any other exception still stops the engine.
/// </summary>
public sealed partial class EngineCore
{
    private bool TryExecute(SchedulerOutput step, out IPendingRunnerOutput? pending)
    {
        try
        {
            pending = executor.Execute(step);
            return true;
        }
        catch (Exception e) when (StepOutOfMemoryException.IsOutOfMemory(e))
        {
            pending = null;
            FailOutOfMemory(step.Scheduled.Select(s => s.Id), e);
            return false;
        }
    }

    private bool TryWait(InFlightStep step, out RunnerOutput output)
    {
        try
        {
            output = step.Pending.Wait();
            return true;
        }
        catch (Exception e) when (StepOutOfMemoryException.IsOutOfMemory(e))
        {
            output = null!;
            FailOutOfMemory(step.Requests.Select(r => r.Id), e);
            return false;
        }
    }

    /// <summary>Ends the failed step's requests; the step before it, if still in flight, completes first (its tokens are good).</summary>
    private void FailOutOfMemory(IEnumerable<string> ids, Exception cause)
    {
        Complete();
        log($"a step ran out of device memory; its requests end with an error and serving goes on: {cause.Message.Split('\n')[0]}");
        Interlocked.Increment(ref Stats.OutOfMemorySteps);
        var error = new StepOutOfMemoryException(cause);
        foreach (var id in ids.ToList())
            if (_active.TryGetValue(id, out var a)) Finish(a, FinishReason.Abort, null, error);
    }
}
