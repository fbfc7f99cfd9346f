using InferenceServer.Engine.Models.Architectures;
using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models;
using InferenceServer.Engine.Tests.Support;
using InferenceServer.TestSupport;
using static TorchSharp.torch;

namespace InferenceServer.Gpu.Tests;

/// <summary>tiny-llama on CUDA: fp32 must give transformers' exact greedy ids; bf16 logits are measured.</summary>
public sealed class CudaTinyLlamaTests(CudaFixture cuda) : IClassFixture<CudaFixture>
{
    private static readonly ReferenceFile Reference = ReferenceFile.Load(Path.Combine(RepoPaths.TinyLlama, "reference.json"));

    [Fact]
    public void Fp32GreedyIdsAndLogitsMatchTransformers()
    {
        var device = cuda.Require();
        using var model = ModelFactory.Load(new ModelOptions { ModelDir = RepoPaths.TinyLlama, Device = device, Dtype = ScalarType.Float32 });
        double worst = 0;
        for (int i = 0; i < Reference.Prompts.Length; i++)
        {
            var p = Reference.Prompts[i];
            Assert.Equal(p.GreedyIds, ModelTestRunner.Greedy(model, p.Ids, p.GreedyIds.Length));
            worst = Math.Max(worst, MaxLogitError(model, i, p.Ids));
        }
        GpuReport.Record("tiny_llama_cuda_fp32_max_abs_logit_error", worst);
        Assert.True(worst < 1e-3, $"fp32 max |Δlogit| {worst}");
    }

    [Fact]
    public void Bf16LogitsAreCloseAndGreedyMostlyAgrees()
    {
        var device = cuda.Require();
        using var model = ModelFactory.Load(new ModelOptions { ModelDir = RepoPaths.TinyLlama, Device = device, Dtype = ScalarType.BFloat16 });
        double worst = 0;
        int agree = 0, total = 0;
        for (int i = 0; i < Reference.Prompts.Length; i++)
        {
            var p = Reference.Prompts[i];
            worst = Math.Max(worst, MaxLogitError(model, i, p.Ids));
            var ids = ModelTestRunner.Greedy(model, p.Ids, p.GreedyIds.Length);
            // Count the prefix that agrees: after the first divergence the continuations are unrelated.
            int k = 0;
            while (k < ids.Length && ids[k] == p.GreedyIds[k]) k++;
            agree += k;
            total += ids.Length;
        }
        GpuReport.Record("tiny_llama_cuda_bf16_max_abs_logit_error", worst);
        GpuReport.Record("tiny_llama_cuda_bf16_greedy_prefix_agreement", $"{agree}/{total}");
        Assert.True(worst < 0.25, $"bf16 max |Δlogit| {worst}");
    }

    private static double MaxLogitError(ICausalLM model, int i, int[] ids)
    {
        using var refFile = new SafeTensorsFile(Path.Combine(RepoPaths.TinyLlama, "reference_logits.safetensors"));
        using var expected = refFile.Read($"prompt{i}.logits", ScalarType.Float32, CPU);
        using var logits = ModelTestRunner.PromptLogits(model, ids);
        using var diff = (logits.cpu() - expected).abs().max();
        return diff.item<float>();
    }
}
