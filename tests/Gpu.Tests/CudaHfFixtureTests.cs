using InferenceServer.Engine.Models.Architectures;
using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models;
using InferenceServer.Engine.Tests.Support;
using InferenceServer.TestSupport;
using static TorchSharp.torch;

namespace InferenceServer.Gpu.Tests;

/// <summary>
/// The HF fixtures (Qwen2, Mistral, OPT pre/post-LN, rope-scaled Llama) on CUDA in fp32, through the native kernels
/// (paged decode attention, fused norm/rotary/SiLU): transformers' logits and greedy ids, as on CPU.
/// </summary>
public sealed class CudaHfFixtureTests(CudaFixture cuda) : IClassFixture<CudaFixture>
{
    public static TheoryData<string> Fixtures => new("qwen2", "mistral", "opt", "opt-post-ln", "llama3-rope", "llama-linear-rope");

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void LogitsAndGreedyIdsMatchTransformers(string name)
    {
        var device = cuda.Require();
        var dir = RepoPaths.Fixture("hf", name);
        var reference = ReferenceFile.Load(Path.Combine(dir, "reference.json"));
        using var model = ModelFactory.Load(new ModelOptions { ModelDir = dir, Device = device, Dtype = ScalarType.Float32 });
        using var refLogits = new SafeTensorsFile(Path.Combine(dir, "reference_logits.safetensors"));
        double worst = 0;
        for (int i = 0; i < reference.Prompts.Length; i++)
        {
            var p = reference.Prompts[i];
            using var expected = refLogits.Read($"prompt{i}.logits", ScalarType.Float32, CPU);
            using var logits = ModelTestRunner.PromptLogits(model, p.Ids);
            var scale = Math.Max(1.0, expected.abs().max().item<float>());
            var err = (logits.cpu() - expected).abs().max().item<float>();
            worst = Math.Max(worst, err / scale);
            Assert.True(err < 1e-4 * scale + 1e-4, $"{name} prompt {i}: max |Δlogit| {err} (logit scale {scale})");
            Assert.Equal(p.GreedyIds, ModelTestRunner.Greedy(model, p.Ids, p.GreedyIds.Length));
        }
        GpuReport.Record($"hf_fixture_cuda_fp32_max_rel_logit_error_{name}", worst);
    }
}
