using InferenceServer.Engine.Models.Architectures;
using InferenceServer.Engine.Loading;
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
        var reference = ReferenceFile.Load(Path.Combine(dir, "reference.json"));
        using var model = ModelFactory.Load(new ModelOptions { ModelDir = dir, Device = CPU, Dtype = ScalarType.Float32 });
        using var refLogits = new SafeTensorsFile(Path.Combine(dir, "reference_logits.safetensors"));
        for (int i = 0; i < reference.Prompts.Length; i++)
        {
            var p = reference.Prompts[i];
            using var expected = refLogits.Read($"prompt{i}.logits", ScalarType.Float32, CPU);
            using var logits = ModelTestRunner.PromptLogits(model, p.Ids);
            var scale = Math.Max(1.0, expected.abs().max().item<float>());
            var err = (logits - expected).abs().max().item<float>();
            Assert.True(err < 1e-4 * scale + 1e-4, $"{name} prompt {i}: max |Δlogit| {err} (logit scale {scale})");
            Assert.Equal(p.GreedyIds, ModelTestRunner.Greedy(model, p.Ids, p.GreedyIds.Length));
        }
    }
}
