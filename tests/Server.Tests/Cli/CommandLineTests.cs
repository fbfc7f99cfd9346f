using InferenceServer.TestSupport;
using InferenceServer.Server.Cli;

namespace InferenceServer.Server.Tests.Cli;

/// <summary>The executable's verbs: help everywhere, and bad paths named in one clear error line with exit code 2.</summary>
[Collection("console")]
public sealed class CommandLineTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (stdout, stderr) = (Console.Out, Console.Error);
        using var o = new StringWriter();
        using var e = new StringWriter();
        Console.SetOut(o);
        Console.SetError(e);
        try
        {
            return (CommandLine.Run(args), o.ToString(), e.ToString());
        }
        finally
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
        }
    }

    [Theory]
    [InlineData("serve")]
    [InlineData("perplexity")]
    [InlineData("bench")]
    public void EveryVerbHasHelp(string verb)
    {
        var (code, output, _) = Run(verb, "--help");
        Assert.Equal(0, code);
        Assert.Contains("--model", output);
        Assert.Contains("--device", output);
    }

    [Fact]
    public void RootHelpListsTheVerbs()
    {
        var (code, output, _) = Run("--help");
        Assert.Equal(0, code);
        foreach (var verb in new[] { "serve", "perplexity", "bench", "bench-kernels" }) Assert.Contains(verb, output);
    }

    [Fact]
    public void KernelBenchHasHelpAndNeedsCuda()
    {
        var (code, output, _) = Run("bench-kernels", "--help");
        Assert.Equal(0, code);
        Assert.Contains("--shapes", output);
        Assert.Contains("--libtorch", output);
        if (TorchSharp.torch.cuda.is_available()) return; // the refusal below is for machines without CUDA
        var (refused, _, err) = Run("bench-kernels", "--m", "1");
        Assert.Equal(2, refused);
        Assert.Contains("CUDA", err);
    }

    [Fact]
    public void MissingModelFolderIsNamed()
    {
        var (code, _, err) = Run("perplexity", "--model", "/nonexistent/model-dir", "--device", "cpu", "--json");
        Assert.Equal(2, code);
        Assert.Contains("/nonexistent/model-dir", err);
    }

    [Fact]
    public void MaxModelLenBeyondOptPositionTableIsRefusedClearly()
    {
        var opt = RepoPaths.Fixture("hf", "opt"); // max_position_embeddings 128
        var (code, _, err) = Run("perplexity", "--model", opt, "--device", "cpu", "--max-model-len", "4096", "--json");
        Assert.Equal(2, code);
        Assert.Contains(opt, err);
        Assert.Contains("--max-model-len 4096 exceeds the model's max_position_embeddings (128)", err);
    }

    [Fact]
    public void MissingDataFileIsNamed()
    {
        var (code, _, err) = Run("perplexity", "--data", "/nonexistent/eval.txt", "--device", "cpu", "--json");
        Assert.Equal(2, code);
        Assert.Contains("/nonexistent/eval.txt", err);
    }

    [Fact]
    public void UnsupportedArchitectureIsNamed()
    {
        var dir = Directory.CreateTempSubdirectory().FullName;
        File.WriteAllText(Path.Combine(dir, "config.json"), "{\"architectures\": [\"GPTNeoXForCausalLM\"], \"hidden_size\": 8, \"num_attention_heads\": 1, \"num_hidden_layers\": 1, \"vocab_size\": 8, \"intermediate_size\": 8}");
        var (code, _, err) = Run("perplexity", "--model", dir, "--device", "cpu", "--json");
        Assert.Equal(2, code);
        Assert.Contains("GPTNeoXForCausalLM is not supported", err);
        Assert.Contains("config.json", err);
    }
}
