using System.Text.Json;
using InferenceServer.Engine.KvCache;
using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models;
using InferenceServer.Engine.Runner;
using InferenceServer.TestSupport;
using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Tests.Models;

/// <summary>tiny-llama on CPU in fp32 against transformers' float32 references (logits and greedy ids).</summary>
public sealed class TinyLlamaReferenceTests : IClassFixture<TinyLlamaFixture>
{
    private readonly TinyLlamaFixture _f;

    public TinyLlamaReferenceTests(TinyLlamaFixture f) => _f = f;

    public static TheoryData<int> Prompts => new(Enumerable.Range(0, 6));

    [Theory]
    [MemberData(nameof(Prompts))]
    public void LogitsMatchTransformers(int i)
    {
        var prompt = _f.Reference.Prompts[i];
        using var refFile = new SafeTensorsFile(Path.Combine(RepoPaths.TinyLlama, "reference_logits.safetensors"));
        using var expected = refFile.Read($"prompt{i}.logits", ScalarType.Float32, CPU);
        using var logits = ModelTestRunner.PromptLogits(_f.Model, prompt.Ids);
        Assert.Equal(expected.shape, logits.shape);
        var maxAbs = (logits - expected).abs().max().item<float>();
        Assert.True(maxAbs < 1e-3, $"prompt {i}: max |Δlogit| = {maxAbs}");
    }

    [Theory]
    [MemberData(nameof(Prompts))]
    public void GreedyIdsMatchTransformers(int i)
    {
        var prompt = _f.Reference.Prompts[i];
        var ids = ModelTestRunner.Greedy(_f.Model, prompt.Ids, prompt.GreedyIds.Length);
        Assert.Equal(prompt.GreedyIds, ids);
    }
}

public sealed class TinyLlamaFixture : IDisposable
{
    public ICausalLM Model { get; }
    public ReferenceFile Reference { get; }

    public TinyLlamaFixture()
    {
        Model = ModelFactory.Load(new ModelOptions { ModelDir = RepoPaths.TinyLlama, Device = CPU, Dtype = ScalarType.Float32 });
        Reference = ReferenceFile.Load(Path.Combine(RepoPaths.TinyLlama, "reference.json"));
    }

    public void Dispose() => Model.Dispose();
}

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
        return new KvCachePool(c.NumLayers, (tokens + BlockSize - 1) / BlockSize, BlockSize, c.NumKvHeads, c.HeadDim, model.Dtype, model.Device);
    }
}
