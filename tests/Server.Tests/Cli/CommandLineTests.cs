using InferenceServer.TestSupport;
using InferenceServer.Server.Cli;

namespace InferenceServer.Server.Tests.Cli;

/// <summary>The executable's verbs: help everywhere, and bad paths named in one clear error line with exit code 2.</summary>
[Collection("console")]
public sealed class CommandLineTests
{
    private static (int Code, string Out, string Err) Run(params string[] args) => ConsoleCapture.Run(args);

    [Theory]
    [InlineData("serve")]
    [InlineData("perplexity")]
    [InlineData("bench")]
    [InlineData("quantize")]
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
        foreach (var verb in new[] { "serve", "perplexity", "bench", "bench-kernels", "quantize" }) Assert.Contains(verb, output);
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
        Assert.DoesNotContain("--device cuda was asked for", err); // no --device was given
    }

    /// <summary>
    /// bench-sampler on the embedded tiny-llama: a short CPU run writes its JSON with both constraints measured, and a
    /// missing tokenizer folder is refused by name.
    /// </summary>
    [Fact]
    public void SamplerBenchMeasuresBothConstraints()
    {
        var json = Path.Combine(Path.GetTempPath(), $"bench-sampler-{Guid.NewGuid():N}.json");
        try
        {
            var (code, _, err) = Run("bench-sampler", "--batch", "4", "--steps", "3", "--output-json", json);
            Assert.True(code == 0, err);
            using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(json));
            var result = doc.RootElement.GetProperty("results")[0];
            Assert.Equal(4096, result.GetProperty("vocab_size").GetInt32());
            foreach (var constraint in new[] { "json_schema", "json_object" })
            {
                var c = result.GetProperty(constraint);
                Assert.True(c.GetProperty("constrained_step_ms").GetProperty("p50").GetDouble() > 0);
                Assert.True(c.GetProperty("masks_built").GetInt32() > 0);
            }
            var (refused, _, refusal) = Run("bench-sampler", "--tokenizer", "no-such-tokenizer-dir");
            Assert.Equal(2, refused);
            Assert.Contains("no-such-tokenizer-dir: no such folder", refusal);
        }
        finally
        {
            File.Delete(json);
        }
    }

    /// <summary>vLLM's tool flags: an unknown parser and the auto flag without a parser are refused before the model loads.</summary>
    [Fact]
    public void ToolCallFlagsAreCheckedBeforeLoading()
    {
        var (code, _, err) = Run("serve", "--tool-call-parser", "pythonic");
        Assert.NotEqual(0, code);
        Assert.Contains("--tool-call-parser 'pythonic' is not known; use one of hermes, llama3_json, mistral", err);
        (code, _, err) = Run("serve", "--enable-auto-tool-choice");
        Assert.NotEqual(0, code);
        Assert.Contains("--enable-auto-tool-choice needs --tool-call-parser", err);
        (code, var help, _) = Run("serve", "--help");
        Assert.Equal(0, code);
        Assert.Contains("--tool-call-parser", help);
        Assert.Contains("--enable-auto-tool-choice", help);
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
        var (code, _, err) = Run("bench", "--model", opt, "--device", "cpu", "--max-model-len", "4096");
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

    /// <summary>quantize writes a compressed-tensors folder; perplexity on it equals on-the-fly quantization's.</summary>
    [Fact]
    public void QuantizedCheckpointScoresLikeOnTheFlyQuantization()
    {
        var dir = Path.Combine(Directory.CreateTempSubdirectory("quantize-").FullName, "out");
        try
        {
            var (code, _, err) = Run("quantize", "--quantization", "w8a8", "--device", "cpu", "--output", dir);
            Assert.True(code == 0, err);
            Assert.Contains($"serve --model {dir}", err);
            // The folder carries its source's served name: the README's requests for "tiny-llama" keep working.
            Assert.Equal("tiny-llama", ServedModelName.Default(dir, dir));
            Assert.Contains("Serve it as \"tiny-llama\"", err);
            var (c1, saved, e1) = Run("perplexity", "--model", dir, "--device", "cpu", "--json", "--windows", "2");
            var (c2, onTheFly, e2) = Run("perplexity", "--quantization", "w8a8", "--device", "cpu", "--json", "--windows", "2");
            Assert.True(c1 == 0 && c2 == 0, e1 + e2);
            Assert.Equal(onTheFly.Trim().Split('\n')[^1], saved.Trim().Split('\n')[^1]);
            Assert.Contains("quantization compressed-tensors", e1);

            var (again, _, againErr) = Run("quantize", "--quantization", "w8a8", "--device", "cpu", "--output", dir);
            Assert.Equal(2, again);
            Assert.Contains($"--output {dir}: the folder exists and is not empty", againErr);
            var (twice, _, twiceErr) = Run("perplexity", "--model", dir, "--quantization", "smoothquant", "--device", "cpu", "--json");
            Assert.Equal(2, twice);
            Assert.Contains("already quantized (compressed-tensors); leave out --quantization smoothquant", twiceErr);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(dir)!, recursive: true);
        }
    }

    /// <summary>
    /// quantize --quantization lutgemm writes BCQ tensors; serving them scores exactly like quantizing at startup with the
    /// same flags (no re-quantization: the stored signs and scales are what the kernel reads).
    /// </summary>
    [Fact]
    public void LutGemmCheckpointScoresLikeOnTheFlyQuantization()
    {
        var dir = Path.Combine(Directory.CreateTempSubdirectory("quantize-").FullName, "out");
        string[] flags = ["--quantization", "lutgemm", "--weight-bits", "3", "--group-size", "64", "--bcq-init", "greedy", "--bcq-iterations", "2", "--device", "cpu"];
        try
        {
            var (code, _, err) = Run(["quantize", .. flags, "--output", dir]);
            Assert.True(code == 0, err);
            Assert.Contains("as lutgemm BCQ", err);
            var (c1, saved, e1) = Run("perplexity", "--model", dir, "--device", "cpu", "--json", "--windows", "2");
            var (c2, onTheFly, e2) = Run(["perplexity", .. flags, "--json", "--windows", "2"]);
            Assert.True(c1 == 0 && c2 == 0, e1 + e2);
            Assert.Equal(onTheFly.Trim().Split('\n')[^1], saved.Trim().Split('\n')[^1]);
            Assert.Contains("quantization lutgemm", e1);
            var (bad, _, badErr) = Run("perplexity", "--quantization", "lutgemm", "--weight-bits", "5", "--device", "cpu", "--json");
            Assert.Equal(2, bad);
            Assert.Contains("--weight-bits 5", badErr);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(dir)!, recursive: true);
        }
    }

    [Fact]
    public void QuantizeNeedsAMethod()
    {
        var (code, _, err) = Run("quantize", "--device", "cpu", "--output", "/tmp/never-written");
        Assert.Equal(2, code);
        Assert.Contains("--quantization (none): quantize writes smoothquant, w8a8, zeroquant or lutgemm checkpoints", err);
        Assert.False(Directory.Exists("/tmp/never-written"));
    }

    /// <summary>A concurrency sweep writes one JSON run per level and a PNG; a later sweep plots beside it.</summary>
    [Fact]
    public void BenchSweepWritesRunsAndALatencyThroughputPlot()
    {
        var dir = Directory.CreateTempSubdirectory("bench-").FullName;
        try
        {
            string json = Path.Combine(dir, "fp32.json"), png = Path.Combine(dir, "plot.png");
            var (code, output, err) = Run("bench", "--device", "cpu", "--concurrency", "1,3", "--input-len", "8", "--output-len", "4", "--output-json", json);
            Assert.True(code == 0, err);
            using (var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(json)))
            {
                var runs = doc.RootElement.GetProperty("runs").EnumerateArray().ToList();
                Assert.Equal([1, 3], runs.Select(r => r.GetProperty("concurrency").GetInt32()));
                Assert.All(runs, r => Assert.False(r.GetProperty("async_scheduling").GetBoolean()));   // off on CPU by default
                Assert.All(runs, r => Assert.True(r.GetProperty("output_tokens_per_s").GetDouble() > 0));
            }
            // stdout is a table, one row per level; the JSON went to the file only. The pool bench sizes for the run
            // is not reported as too small for a --max-model-len nobody asked for.
            var lines = output.Trim().Split('\n');
            Assert.Contains("output tok/s", lines[0]);
            Assert.Equal(3, lines.Length);
            Assert.DoesNotContain("{", output);
            Assert.DoesNotContain("warning", err);
            string asyncJson = Path.Combine(dir, "async.json");
            (code, output, err) = Run("bench", "--device", "cpu", "--concurrency", "2", "--input-len", "8", "--output-len", "4", "--plot", png, "--plot-also", json,
                "--async-scheduling", "--output-json", asyncJson);
            Assert.True(code == 0, err);
            Assert.Contains("\"async_scheduling\": true", File.ReadAllText(asyncJson));
            var bytes = File.ReadAllBytes(png);
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
            Assert.True(bytes.Length > 5000, $"{bytes.Length} bytes");

            // The plot verb draws the same from files alone.
            string replot = Path.Combine(dir, "replot.png");
            (code, _, err) = Run("plot", json, json, "--output", replot, "--title", "two sweeps");
            Assert.True(code == 0, err);
            Assert.True(File.ReadAllBytes(replot).Length > 5000);
            var (refused, _, refusal) = Run("plot", Path.Combine(dir, "none.json"), "--output", replot);
            Assert.Equal(2, refused);
            Assert.Contains("plot " + Path.Combine(dir, "none.json") + ": no such file", refusal);
            File.WriteAllText(Path.Combine(dir, "bad.json"), "{\"x\": 1}");
            (refused, _, refusal) = Run("plot", Path.Combine(dir, "bad.json"), "--output", replot);
            Assert.Equal(2, refused);
            Assert.Contains("bad.json: not a bench --output-json file", refusal);

            (refused, _, refusal) = Run("bench", "--device", "cpu", "--async-scheduling", "--no-async-scheduling");
            Assert.Equal(2, refused);
            Assert.Contains("--async-scheduling and --no-async-scheduling contradict", refusal);
            (refused, _, refusal) = Run("bench", "--device", "cpu", "--concurrency", "1,0");
            Assert.Equal(2, refused);
            Assert.Contains("--concurrency 1,0: expected positive integers", refusal);
            (refused, _, refusal) = Run("bench", "--device", "cpu", "--plot", png, "--plot-also", Path.Combine(dir, "missing.json"));
            Assert.Equal(2, refused);
            Assert.Contains("missing.json: no such file", refusal);

            // The multi-rank executor as a group of one runs the tensor-parallel path; one rank cannot hold two.
            string mp = Path.Combine(dir, "mp.json");
            (code, output, err) = Run("bench", "--device", "cpu", "--input-len", "8", "--output-len", "4", "--distributed-executor-backend", "mp", "--output-json", mp);
            Assert.True(code == 0, err);
            Assert.Contains("tensor parallel: 1 ranks", err + output);
            (refused, _, refusal) = Run("bench", "--device", "cpu", "-tp", "2", "--distributed-executor-backend", "uni");
            Assert.Equal(2, refused);
            Assert.Contains("--distributed-executor-backend uni runs one rank; --tensor-parallel-size 2 needs mp", refusal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
