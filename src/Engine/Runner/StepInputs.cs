using InferenceServer.Engine.Batching;
using InferenceServer.Engine.Scheduling;

namespace InferenceServer.Engine.Runner;

/// <summary>
/// One step's model inputs taken from the persistent batch: a chunk per scheduled request (its token window, start
/// position and the block table it keeps, not a copy), and the rows whose token the previous step sampled on the device.
/// </summary>
internal sealed record StepInputs(SequenceChunk[] Chunks, RunnerRequestState[] States, PendingTokenFeed? Feed, bool AllDecode)
{
    /// <param name="previous">The step launched before this one, whose samples are still on the device.</param>
    public static StepInputs Build(SchedulerOutput step, InputBatch batch, LaunchedStep? previous)
    {
        int n = step.Scheduled.Count;
        var chunks = new SequenceChunk[n];
        var states = new RunnerRequestState[n];
        List<int>? feedRows = null, feedSources = null;
        bool allDecode = true;
        int tokenRow = 0;
        for (int i = 0; i < n; i++)
        {
            var s = step.Scheduled[i];
            var st = batch[s.Id];
            states[i] = st;
            bool promptLogprobs = st.PromptLogprobs is not null && st.NumComputed < st.PromptLength;
            IReadOnlyList<int> tokens = s.NumTokens == 1 ? [st.Tokens[st.NumComputed]] : st.Tokens.GetRange(st.NumComputed, s.NumTokens);
            chunks[i] = new SequenceChunk(tokens, st.NumComputed, st.BlockTable, promptLogprobs);
            allDecode &= s.NumTokens == 1;
            if (tokens[^1] == Request.Placeholder)
            {
                int source = previous?.RowOf(s.Id) ?? -1;
                if (source < 0)
                    throw new InvalidOperationException($"request {s.Id} feeds a token that no launched step sampled");
                (feedRows ??= []).Add(tokenRow + s.NumTokens - 1);
                (feedSources ??= []).Add(source);
            }
            tokenRow += s.NumTokens;
        }
        var feed = feedRows is null ? null : new PendingTokenFeed([.. feedRows], [.. feedSources!], previous!.Samples.TokenIds);
        return new StepInputs(chunks, states, feed, allDecode);
    }
}
