using InferenceServer.Engine.Loading;

namespace InferenceServer.Engine.Parallel;

/// <summary>
/// Which share of a model one rank holds (Megatron-LM's split, as vLLM does it): attention heads and the MLP's
/// intermediate width divided evenly; KV heads divided when there are at least as many as ranks, else each KV head
/// replicated on the <c>size / kv</c> ranks whose query heads read it; the vocabulary in chunks of ⌈V / size⌉ rows,
/// the last rank's shorter.
/// </summary>
public sealed record TensorParallelLayout(int Rank, int Size)
{
    public static readonly TensorParallelLayout Single = new(0, 1);

    /// <summary>
    /// Whether layers take the parallel path (shares, collectives): with more than one rank, or with a real group of
    /// one (<c>--distributed-executor-backend mp</c> at size 1, which runs the multi-rank code on one device).
    /// </summary>
    public bool IsSharded => Size > 1 || InGroup;

    /// <summary>A real communicator stands behind this layout, even of one rank.</summary>
    public bool InGroup { get; init; }

    /// <summary>This rank's query heads: [Start, Start + Count).</summary>
    public (int Start, int Count) QueryHeads(ModelConfig c) => Even(c.NumHeads);

    /// <summary>This rank's KV heads; with fewer KV heads than ranks, the one its query heads share.</summary>
    public (int Start, int Count) KvHeads(ModelConfig c) =>
        c.NumKvHeads >= Size ? Even(c.NumKvHeads) : (Rank * c.NumKvHeads / Size, 1);

    /// <summary>This rank's columns of the MLP's intermediate width.</summary>
    public (int Start, int Count) Intermediate(ModelConfig c) => Even(c.IntermediateSize);

    /// <summary>Rows of the (padded) vocabulary chunk each rank holds: ⌈V / size⌉.</summary>
    public static int VocabChunk(int vocabSize, int size) => (vocabSize + size - 1) / size;

    /// <summary>This rank's token ids [Start, Start + Count); Count may be below the chunk (the last rank) or zero.</summary>
    public (int Start, int Count) Vocab(int vocabSize)
    {
        int chunk = VocabChunk(vocabSize, Size);
        int start = Math.Min(vocabSize, Rank * chunk);
        return (start, Math.Min(vocabSize, start + chunk) - start);
    }

    private (int Start, int Count) Even(int total) => (Rank * (total / Size), total / Size);

    /// <summary>Why <paramref name="size"/> ranks cannot share this model, or null when they can.</summary>
    public static string? Problem(ModelConfig c, int size)
    {
        if (size < 1) return "must be at least 1";
        if (c.NumHeads % size != 0) return $"the model's {c.NumHeads} attention heads do not divide among {size} ranks";
        if (c.NumKvHeads % size != 0 && size % c.NumKvHeads != 0)
            return $"the model's {c.NumKvHeads} KV heads neither divide among {size} ranks nor replicate evenly over them";
        if (c.IntermediateSize % size != 0) return $"the MLP's intermediate size {c.IntermediateSize} does not divide among {size} ranks";
        return null;
    }

    /// <summary>The sizes up to the head count that can share this model.</summary>
    public static IReadOnlyList<int> ValidSizes(ModelConfig c) =>
        Enumerable.Range(1, c.NumHeads).Where(s => Problem(c, s) is null).ToArray();

    /// <summary>Throws a <see cref="ModelLoadException"/> naming the flag, the reason and the sizes that work.</summary>
    public static void Validate(ModelConfig c, int size)
    {
        if (Problem(c, size) is { } why)
            throw new ModelLoadException($"--tensor-parallel-size {size}: {why}; sizes that divide this model: {string.Join(", ", ValidSizes(c))}.");
    }
}
