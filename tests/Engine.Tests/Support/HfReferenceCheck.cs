using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Tests.Support;

/// <summary>
/// The check of a model against an HF fixture's references (reference.json and reference_logits.safetensors, written
/// by HF transformers in float32): for every prompt, all prompt logits and the greedy continuation.
/// </summary>
public static class HfReferenceCheck
{
    /// <summary>
    /// Asserts every prompt's logits [T, V] are within 1e-4 · scale + 1e-4 of transformers' (scale: the largest
    /// |logit|, at least 1) and its greedy ids are transformers'. Returns the worst max |Δlogit| / scale.
    /// </summary>
    /// <param name="label">Names the model in failure messages.</param>
    public static double AssertMatchesTransformers(ICausalLM model, string fixtureDir, string label)
    {
        var reference = ReferenceFile.Load(Path.Combine(fixtureDir, "reference.json"));
        using var refLogits = new SafeTensorsFile(Path.Combine(fixtureDir, "reference_logits.safetensors"));
        double worst = 0;
        for (int i = 0; i < reference.Prompts.Length; i++)
        {
            var p = reference.Prompts[i];
            using var expected = refLogits.Read($"prompt{i}.logits", ScalarType.Float32, CPU);
            using var logits = ModelTestRunner.PromptLogits(model, p.Ids);
            var (scale, err) = MaxAbsError(logits, expected);
            worst = Math.Max(worst, err / scale);
            Assert.True(err < 1e-4 * scale + 1e-4, $"{label} prompt {i}: max |Δlogit| {err} (logit scale {scale})");
            Assert.Equal(p.GreedyIds, ModelTestRunner.Greedy(model, p.Ids, p.GreedyIds.Length));
        }
        return worst;
    }

    /// <summary>max |expected| (at least 1) and max |actual − expected|; actual [T, V] on any device, expected [T, V] on the CPU.</summary>
    private static (double Scale, double Err) MaxAbsError(Tensor actual, Tensor expected)
    {
        using var scope = NewDisposeScope();
        return (Math.Max(1.0, expected.abs().max().item<float>()), (actual.cpu() - expected).abs().max().item<float>());
    }
}
