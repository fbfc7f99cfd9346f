using InferenceServer.Engine.Serving;

namespace InferenceServer.Engine.Scheduling;

/// <summary>
/// The scheduler's view of one request: its tokens (prompt, then output), how many of them already have keys and
/// values in the cache, and the blocks that hold them.
/// </summary>
public sealed class Sequence(GenerationRequest request, long arrivalOrder)
{
    public GenerationRequest Request { get; } = request;
    public string Id => Request.RequestId;
    public long ArrivalOrder { get; } = arrivalOrder;
    public SequenceStatus Status { get; set; } = SequenceStatus.Waiting;

    /// <summary>Prompt then generated tokens.</summary>
    public List<int> Tokens { get; } = [.. request.PromptTokenIds];
    public int PromptLength { get; } = request.PromptTokenIds.Count;
    public int OutputLength => Tokens.Count - PromptLength;

    /// <summary>Tokens whose keys/values are in the cache.</summary>
    public int NumComputed { get; set; }
    public List<int> BlockTable { get; } = [];

    /// <summary>Tokens still to be fed to the model before the next token can be sampled.</summary>
    public int NumUncomputed => Tokens.Count - NumComputed;

    /// <summary>Prefix hashes of the sequence's full blocks, computed as blocks fill (index = block number).</summary>
    public List<KvCache.BlockHash> BlockHashes { get; } = [];

    /// <summary>Blocks already registered in the prefix cache.</summary>
    public int RegisteredBlocks { get; set; }

    /// <summary>
    /// Its last token (by max_tokens or the model length) is sampled but not yet read back (async scheduling):
    /// nothing is left to compute, so the scheduler passes it over until it finishes.
    /// </summary>
    public bool Finishing { get; set; }

    public int Preemptions { get; set; }
    public int CachedPromptTokens { get; set; }
}
