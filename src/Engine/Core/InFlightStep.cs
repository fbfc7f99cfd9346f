using InferenceServer.Engine.Runner;
using InferenceServer.Engine.Scheduling;

namespace InferenceServer.Engine.Core;

/// <summary>
/// A launched step as the core tracks it: the executor's pending output and, for each sampled request in order,
/// where its placeholder token sits.
/// </summary>
internal sealed record InFlightStep(IPendingRunnerOutput Pending, Request[] Requests, int[] TokenIndex) : IDisposable
{
    /// <summary>
    /// Appends a placeholder for every request the step samples; a request whose token limit that token reaches is
    /// marked finishing, so it is not scheduled again (its row would be wasted).
    /// </summary>
    public static InFlightStep Launched(IPendingRunnerOutput pending, SchedulerOutput step, IReadOnlyDictionary<string, ActiveRequest> active, StopChecker stops)
    {
        var requests = new List<Request>();
        var index = new List<int>();
        foreach (var s in step.Scheduled)
        {
            if (!s.Samples) continue;
            var r = active[s.Id].Request;
            requests.Add(r);
            index.Add(r.Tokens.Count);
            r.Tokens.Add(Request.Placeholder);
            r.Finishing = stops.ReachesLimit(r, index[^1]);
        }
        return new InFlightStep(pending, [.. requests], [.. index]);
    }

    public bool NeedsHostTokens => Pending.NeedsHostTokens;

    public void Dispose() => Pending.Dispose();
}
