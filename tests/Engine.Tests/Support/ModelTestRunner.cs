using System.Text.Json;
using InferenceServer.Engine.Batching;
using InferenceServer.Engine.KvCache;
using InferenceServer.Engine.Models;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Tests.Support;

/// <summary>reference.json as written by the fixture generators: prompts with ids and greedy continuations.</summary>
public sealed record ReferenceFile(ReferencePrompt[] Prompts)
{
    public static ReferenceFile Load(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var prompts = doc.RootElement.GetProperty("prompts").EnumerateArray().Select(p => new ReferencePrompt(
            p.GetProperty("text").GetString()!,
            p.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()).ToArray(),
            p.GetProperty("greedy_ids").EnumerateArray().Select(x => x.GetInt32()).ToArray(),
            p.GetProperty("greedy_text").GetString()!)).ToArray();
        return new ReferenceFile(prompts);
    }
}

public sealed record ReferencePrompt(string Text, int[] Ids, int[] GreedyIds, string GreedyText);

/// <summary>Runs one sequence through a model with a private cache: all prompt logits, or greedy decoding.</summary>
public static class ModelTestRunner
{
    private const int BlockSize = 16;

    public static Tensor PromptLogits(ICausalLM model, IReadOnlyList<int> ids)
    {
        using var cache = NewCache(model, ids.Count);
        using var batch = ForwardBatchBuilder.Build([new SequenceChunk(ids, 0, Blocks(ids.Count), AllLogits: true)], BlockSize, model.Device);
        return model.Forward(batch, cache);
    }

    public static int[] Greedy(ICausalLM model, IReadOnlyList<int> prompt, int newTokens)
    {
        int total = prompt.Count + newTokens;
        using var cache = NewCache(model, total);
        var blocks = Blocks(total);
        var output = new List<int>();
        var chunk = new SequenceChunk(prompt, 0, blocks);
        for (int step = 0; step < newTokens; step++)
        {
            // The scope holds logits[0] and its argmax until the step ends: a temporary nothing references is left to
            // the finalizer, which can free its native tensor while argmax or item still reads it.
            using var scope = NewDisposeScope();
            // The model's backend builds its own inputs: on CUDA with the native kernels, decode steps run the paged kernel.
            using var batch = ForwardBatchBuilder.Build([chunk], BlockSize, model.Device);
            using var logits = model.Forward(batch, cache);
            int next = (int)logits[0].argmax().item<long>();
            output.Add(next);
            chunk = new SequenceChunk([next], prompt.Count + step, blocks);
        }
        return output.ToArray();
    }

    private static int[] Blocks(int tokens) => Enumerable.Range(0, (tokens + BlockSize - 1) / BlockSize).ToArray();

    private static KvCachePool NewCache(ICausalLM model, int tokens)
    {
        var c = model.Config;
        return new KvCachePool(c.NumLayers, (tokens + BlockSize - 1) / BlockSize, BlockSize, model.KvHeads, c.HeadDim, model.Dtype, model.Device);
    }
}
