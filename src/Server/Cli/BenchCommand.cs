using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using InferenceServer.Engine.Sampling;
using InferenceServer.Engine.Scheduling;
using InferenceServer.Engine.Serving;

namespace InferenceServer.Server.Cli;

/// <summary>
/// <c>bench</c>: offline throughput/latency through the real engine (no HTTP): N concurrent requests of fixed prompt
/// and output lengths with random prompt ids, greedy, EOS ignored. Prints one JSON object.
/// </summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var a = new EngineArguments();
        var concurrency = new Option<int>("--concurrency") { Description = "Requests in flight at once.", DefaultValueFactory = _ => 1 };
        var promptLen = new Option<int>("--input-len") { Description = "Prompt tokens per request.", DefaultValueFactory = _ => 128 };
        var outputLen = new Option<int>("--output-len") { Description = "Generated tokens per request.", DefaultValueFactory = _ => 128 };
        var kvBlocks = new Option<int?>("--num-kv-blocks") { Description = "KV-cache blocks (default: enough for the run)." };
        var output = new Option<string?>("--output-json") { Description = "Also write the result to this file." };
        var eager = new Option<bool>("--enforce-eager") { Description = "Never replay decode steps from CUDA graphs." };
        var batchedTokens = new Option<int?>("--max-num-batched-tokens")
        {
            Description = "Tokens per engine step (prefill chunks plus decodes), at least --input-len. Default: 2048, as serve.",
        };
        var cmd = new Command("bench", "Measure decode speed, throughput, TTFT and TPOT through the engine.");
        foreach (var o in a.All) cmd.Options.Add(o);
        foreach (var o in new Option[] { concurrency, promptLen, outputLen, kvBlocks, output, eager, batchedTokens }) cmd.Options.Add(o);
        cmd.SetAction(p =>
        {
            int n = p.GetValue(concurrency), inLen = p.GetValue(promptLen), outLen = p.GetValue(outputLen);
            using var loaded = ModelLoading.Load(p, a, Console.Error.WriteLine, showProgress: false);
            const int blockSize = 16;
            // 8192 measured no faster on the H100 at 64 × 128/128 (docs/benchmarks/h100-continuous-batching.json) and raised TTFT.
            int stepTokens = Math.Max(p.GetValue(batchedTokens) ?? new SchedulerOptions().MaxNumBatchedTokens, inLen);
            int blocks = p.GetValue(kvBlocks) ?? n * ((inLen + outLen + blockSize - 1) / blockSize + 1) + 1;
            using var engine = new LlmEngine(loaded.Model, loaded.Tokenizer, loaded.TokenizerConfig, new EngineOptions
            {
                NumKvBlocks = blocks,
                BlockSize = blockSize,
                EnforceEager = p.GetValue(eager),
                Scheduler = new SchedulerOptions
                {
                    MaxNumSeqs = Math.Max(n, 1),
                    MaxNumBatchedTokens = stepTokens,
                },
            }, Console.Error.WriteLine);
            engine.Start();
            while (!engine.IsReady) Thread.Sleep(10);
            var rng = new Random(0);
            int vocab = loaded.Model.Config.VocabSize;
            // One warm-up request, then the measured run.
            RunOne(engine, "warmup", Enumerable.Range(0, inLen).Select(_ => rng.Next(3, vocab)).ToArray(), 4).GetAwaiter().GetResult();
            long stepsBefore = engine.Stats.Steps;
            var sw = Stopwatch.StartNew();
            var runs = Enumerable.Range(0, n).Select(i => RunOne(engine, $"bench{i}",
                Enumerable.Range(0, inLen).Select(_ => rng.Next(3, vocab)).ToArray(), outLen)).ToArray();
            var results = Task.WhenAll(runs).GetAwaiter().GetResult();
            double wall = sw.Elapsed.TotalSeconds;
            var ttft = results.Select(r => r.Ttft).Order().ToArray();
            var tpot = results.Select(r => r.Tpot).Order().ToArray();
            var report = new Dictionary<string, object>
            {
                ["model"] = loaded.Model.Config.Architecture,
                ["model_dir"] = loaded.ModelDir,
                ["device"] = loaded.Model.Device.ToString(),
                ["dtype"] = loaded.Model.Dtype.ToString(),
                ["quantization"] = p.GetValue(a.Quantization) ?? "none",
                ["cuda_graphs"] = loaded.Model.Device.type == TorchSharp.DeviceType.CUDA && !p.GetValue(eager),
                ["concurrency"] = n,
                ["input_len"] = inLen,
                ["output_len"] = outLen,
                ["max_num_batched_tokens"] = stepTokens,
                ["wall_s"] = wall,
                ["engine_steps"] = engine.Stats.Steps - stepsBefore,
                ["mean_step_ms"] = wall * 1000 / Math.Max(1, engine.Stats.Steps - stepsBefore),
                ["output_tokens_per_s"] = n * outLen / wall,
                ["single_stream_decode_tokens_per_s"] = 1.0 / Percentile(tpot, 0.5),
                ["ttft_ms"] = Percentiles(ttft),
                ["tpot_ms"] = Percentiles(tpot),
            };
            var json = JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true });
            Console.WriteLine(json);
            if (p.GetValue(output) is { } path) File.WriteAllText(path, json);
            return 0;
        });
        return cmd;
    }

    private static async Task<(double Ttft, double Tpot)> RunOne(LlmEngine engine, string id, int[] prompt, int outLen)
    {
        var sw = Stopwatch.StartNew();
        double first = 0;
        int tokens = 0;
        await foreach (var o in engine.Submit(new GenerationRequest(id, prompt, new SamplingParams { Temperature = 0, MaxTokens = outLen, IgnoreEos = true }), CancellationToken.None))
        {
            if (tokens == 0 && o.TokenIds.Count > 0) first = sw.Elapsed.TotalSeconds;
            tokens += o.TokenIds.Count;
        }
        double total = sw.Elapsed.TotalSeconds;
        return (first, tokens > 1 ? (total - first) / (tokens - 1) : 0);
    }

    private static double Percentile(double[] sorted, double q) => sorted[(int)Math.Min(sorted.Length - 1, Math.Round(q * (sorted.Length - 1)))];

    private static Dictionary<string, double> Percentiles(double[] sorted) => new()
    {
        ["p50"] = Percentile(sorted, 0.5) * 1000,
        ["p90"] = Percentile(sorted, 0.9) * 1000,
        ["p99"] = Percentile(sorted, 0.99) * 1000,
        ["mean"] = sorted.Average() * 1000,
    };
}
