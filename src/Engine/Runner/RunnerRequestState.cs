using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Sampling;
using InferenceServer.Engine.Scheduling;

namespace InferenceServer.Engine.Runner;

/// <summary>
/// What the model runner keeps about one request between steps, updated by the scheduler's diffs: its tokens (the
/// sampled ones filled in as they reach the host), its block table, and its sampling input, whose output-token view
/// the penalties read without a per-step copy.
/// </summary>
internal sealed class RunnerRequestState
{
    public RunnerRequestState(NewRequestData d)
    {
        Id = d.Id;
        Tokens = [.. d.TokenIds];
        PromptLength = d.PromptLength;
        BlockTable = [.. d.BlockIds];
        NumComputed = d.NumComputedTokens;
        PromptLogprobs = d.PromptLogprobs;
        SamplingInput = new SequenceSamplingInput(d.Sampling, new ListSlice(Tokens, 0, PromptLength), new ListSlice(Tokens, PromptLength), d.Random);
    }

    public string Id { get; }
    public List<int> Tokens { get; }
    public int PromptLength { get; }
    public List<int> BlockTable { get; }
    public int NumComputed { get; set; }

    /// <summary>Top alternatives wanted for each prompt token, while the prompt is being computed; null otherwise.</summary>
    public int? PromptLogprobs { get; }

    /// <summary>Prompt logprobs computed so far (a prompt may be prefilled in several chunks), until they go out.</summary>
    public List<OutputLogprob?>? PendingPromptLogprobs { get; set; }

    public SequenceSamplingInput SamplingInput { get; }

    /// <summary>A read-only window of a list that grows in place: [start, start + length), or to its end.</summary>
    private sealed class ListSlice(List<int> list, int start, int length = -1) : IReadOnlyList<int>
    {
        public int Count => length >= 0 ? length : list.Count - start;
        public int this[int index] => list[start + index];

        public IEnumerator<int> GetEnumerator()
        {
            for (int i = 0, n = Count; i < n; i++) yield return list[start + i];
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
