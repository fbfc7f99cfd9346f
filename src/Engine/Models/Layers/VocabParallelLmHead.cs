using InferenceServer.Engine.Models.Quantization;
using InferenceServer.Engine.Parallel;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Models.Layers;

/// <summary>
/// lm_head split by vocabulary: each rank computes the logits of its rows, padded to the common chunk ⌈V / size⌉,
/// and an all-gather along the vocabulary puts the full [N, V] on every rank (each logit is computed on one rank
/// only, so no sum is involved). With one rank it is the plain matmul.
/// </summary>
/// <param name="share">This rank's rows of lm_head as a linear layer [Count, width] (not owned: tied heads share the embedding's rows).</param>
public sealed class VocabParallelLmHead(ILinearKernel share, int vocabSize, ICommunicator comm)
{
    /// <param name="hidden">[N, width] final hidden states.</param>
    /// <returns>[N, V] logits in the serving dtype.</returns>
    public Tensor Forward(Tensor hidden)
    {
        if (comm is SingleRankCommunicator) return share.Forward(hidden);
        using var scope = NewDisposeScope();
        var local = share.Forward(hidden);                                              // [N, Count]
        int chunk = TensorParallelLayout.VocabChunk(vocabSize, comm.WorldSize);
        if (local.shape[1] < chunk)
            local = cat([local, zeros([local.shape[0], chunk - local.shape[1]], local.dtype, local.device)], 1);   // [N, chunk]
        var all = comm.AllGather(local.contiguous(), 1);                                // [N, size · chunk]
        return all.narrow(1, 0, vocabSize).MoveToOuterDisposeScope();
    }
}
