using InferenceServer.Engine.Scheduling;

namespace InferenceServer.Engine.Runner;

/// <summary>
/// The runner's persistent view of every request it is serving, updated by each step's diff (vLLM v1's
/// InputBatch): dropped requests leave, new ones arrive with their whole state, running ones only gain blocks.
/// </summary>
internal sealed class InputBatch
{
    private readonly Dictionary<string, RunnerRequestState> _requests = new();

    public int Count => _requests.Count;

    public RunnerRequestState this[string id] => _requests.TryGetValue(id, out var s) ? s
        : throw new InvalidOperationException($"the model runner has no state for request {id}: the scheduler output skipped its new-request data");

    public bool TryGet(string id, out RunnerRequestState state) => _requests.TryGetValue(id, out state!);

    public void Apply(SchedulerOutput output)
    {
        foreach (var id in output.DroppedRequestIds) _requests.Remove(id);
        foreach (var r in output.NewRequests) _requests[r.Id] = new RunnerRequestState(r);
        foreach (var c in output.CachedRequests)
        {
            var s = this[c.Id];
            s.BlockTable.AddRange(c.NewBlockIds);
            if (s.NumComputed != c.NumComputedTokens)
                throw new InvalidOperationException($"request {c.Id}: the runner has {s.NumComputed} tokens computed, the scheduler {c.NumComputedTokens}");
        }
    }
}
