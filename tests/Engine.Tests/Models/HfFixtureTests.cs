using InferenceServer.Engine.Models.Architectures;
using InferenceServer.Engine.Models;
using InferenceServer.Engine.Tests.Support;
using InferenceServer.TestSupport;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Tests.Models;

/// <summary>
/// Small random-weight Qwen2, Mistral, OPT and rope-scaled Llama checkpoints made by transformers
/// (src/Assets/fixtures/hf/make_fixtures.py); the engine must reproduce their float32 logits and greedy ids.
/// </summary>
public sealed class HfFixtureTests
{
    public static TheoryData<string> Fixtures => new("qwen2", "mistral", "opt", "opt-post-ln", "llama3-rope", "llama-linear-rope");

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void LogitsAndGreedyIdsMatchTransformers(string name)
    {
        var dir = RepoPaths.Fixture("hf", name);
        Assert.True(Directory.Exists(dir), $"{dir} is missing; regenerate with src/Assets/fixtures/hf/make_fixtures.py");
        using var model = ModelFactory.Load(new ModelOptions { ModelDir = dir, Device = CPU, Dtype = ScalarType.Float32 });
        HfReferenceCheck.AssertMatchesTransformers(model, dir, name);
    }
}
