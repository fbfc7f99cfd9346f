using InferenceServer.Engine.Models;
using InferenceServer.Engine.Models.Architectures;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Tests.Support;

/// <summary><see cref="ModelTestRunner"/> on every rank of a sharded model at once (their forward passes meet in collectives).</summary>
public static class ShardedTestRunner
{
    /// <summary>Rank 0's prompt logits [T, V], after checking that every rank computed exactly the same.</summary>
    public static Tensor PromptLogits(ShardedModel model, IReadOnlyList<int> ids)
    {
        var logits = OnRanks(model, m => ModelTestRunner.PromptLogits(m, ids));
        for (int r = 1; r < logits.Length; r++)
        {
            Assert.True(logits[r].eq(logits[0]).all().item<bool>(), $"rank {r}'s logits differ from rank 0's");
            logits[r].Dispose();
        }
        return logits[0];
    }

    public static int[] Greedy(ShardedModel model, IReadOnlyList<int> prompt, int newTokens)
    {
        var ids = OnRanks(model, m => ModelTestRunner.Greedy(m, prompt, newTokens));
        foreach (var other in ids) Assert.Equal(ids[0], other);
        return ids[0];
    }

    private static T[] OnRanks<T>(ShardedModel model, Func<ICausalLM, T> work)
    {
        var tasks = model.Ranks.Select(m => Task.Factory.StartNew(() => work(m), TaskCreationOptions.LongRunning)).ToArray();
        Assert.True(Task.WaitAll(tasks, TimeSpan.FromSeconds(60)), "the ranks did not finish");
        return tasks.Select(t => t.Result).ToArray();
    }
}
