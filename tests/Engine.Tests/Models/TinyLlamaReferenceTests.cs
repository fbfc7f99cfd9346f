using InferenceServer.Engine.Models.Architectures;
using System.Text.Json;
using InferenceServer.Engine.KvCache;
using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models;
using InferenceServer.Engine.Tests.Support;
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

