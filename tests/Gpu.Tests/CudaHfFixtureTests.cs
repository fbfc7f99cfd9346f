using InferenceServer.Engine.Models.Architectures;
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
        using var model = ModelFactory.Load(new ModelOptions { ModelDir = dir, Device = device, Dtype = ScalarType.Float32 });
        double worst = HfReferenceCheck.AssertMatchesTransformers(model, dir, name);
        GpuReport.Record($"hf_fixture_cuda_fp32_max_rel_logit_error_{name}", worst);
    }
}
