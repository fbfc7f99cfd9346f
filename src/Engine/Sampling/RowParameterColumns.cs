using InferenceServer.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Sampling;

/// <summary>
/// Per-row numeric settings packed as one [B, Count] float32 tensor so a step costs a single host→device copy;
/// each column is handed out as a [B, 1] view that broadcasts against [B, V] logits.
/// </summary>
internal static class RowParameterColumns
{
    /// <summary>Temperature to divide by (1 for greedy rows, whose sampled value is discarded).</summary>
    public const int Temperature = 0;

    /// <summary>repetition_penalty − 1 (0 = off), so factor = 1 + seen × column.</summary>
    public const int RepetitionMinusOne = 1;

    public const int Frequency = 2;

    public const int Presence = 3;

    /// <summary>log(min_p): a token survives min-p iff logit ≥ max logit + log(min_p); −inf = off.</summary>
    public const int LogMinP = 4;

    /// <summary>top_p, or 2 when off (exclusive cumulative mass never reaches 2, so float error cannot cut the tail).</summary>
    public const int TopPThreshold = 5;

    /// <summary>top_k clamped to [1, V]; V when off. Exact in float32 for any V below 2^24.</summary>
    public const int TopK = 6;

    /// <summary>1 for greedy rows, 0 for sampled rows.</summary>
    public const int IsGreedy = 7;

    public const int Count = 8;

    /// <summary>Fills <paramref name="row"/>'s slots of the host array [B × Count].</summary>
    public static void Write(float[] host, int row, SamplingParams p, int vocabSize)
    {
        var offset = row * Count;
        var greedy = p.IsGreedy;
        host[offset + Temperature] = p.EffectiveTemperature;
        host[offset + RepetitionMinusOne] = p.RepetitionPenalty - 1f;
        host[offset + Frequency] = p.FrequencyPenalty;
        host[offset + Presence] = p.PresencePenalty;
        host[offset + LogMinP] = !greedy && p.MinP > 0 ? MathF.Log(p.MinP) : float.NegativeInfinity;
        host[offset + TopPThreshold] = !greedy && p.TopP < 1f ? p.TopP : 2f;
        host[offset + TopK] = !greedy && p.TopK > 0 ? Math.Min(p.TopK, vocabSize) : vocabSize;
        host[offset + IsGreedy] = greedy ? 1f : 0f;
    }

    /// <summary>The whole table on <paramref name="device"/>: [B, Count] float32.</summary>
    public static Tensor ToDevice(float[] host, int batchSize, Device device) =>
        HostToDevice.Move(torch.tensor(host, batchSize, Count, ScalarType.Float32), device);

    /// <summary>Column <paramref name="column"/> as a [B, 1] view.</summary>
    public static Tensor Column(Tensor table, int column) => table.narrow(1, column, 1);
}
