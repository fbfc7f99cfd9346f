using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using InferenceServer.Engine.Models.Quantization;
using InferenceServer.Engine.Sampling;
using InferenceServer.Engine.Scheduling;
using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Serving;

namespace InferenceServer.Server.Cli;

/// <summary>
/// <c>bench</c>: offline throughput/latency through the real engine (no HTTP): N concurrent requests of fixed prompt
/// and output lengths with random prompt ids, greedy, EOS ignored. Prints a table, one row per concurrency level;
/// --output-json writes the full figures (one object, or {"runs": [...]} for several levels), and --plot draws
/// latency against throughput.
/// </summary>
public static class BenchCommand
{
    public static Command Create(QuantizationRegistry quantization)
    {
        var a = new EngineArguments();
        var concurrency = new Option<string>("--concurrency")
        {
            Description = "Requests in flight at once; a comma-separated list (1,4,16,64) measures each level in turn on one loaded engine.",
            DefaultValueFactory = _ => "1",
        };
        var promptLen = new Option<int>("--input-len") { Description = "Prompt tokens per request.", DefaultValueFactory = _ => 128 };
        var outputLen = new Option<int>("--output-len") { Description = "Generated tokens per request.", DefaultValueFactory = _ => 128 };
        var kvBlocks = new Option<int?>("--num-kv-blocks") { Description = "KV-cache blocks (default: enough for the run)." };
        var output = new Option<string?>("--output-json") { Description = "Write the full results as JSON to this file (stdout gets a table)." };
        var plot = new Option<string?>("--plot") { Description = "Write a PNG of TPOT and TTFT (p50) against output tokens/s, one point per concurrency level." };
        var compare = new Option<string[]>("--plot-also")
        {
            Description = "Earlier --output-json files to draw in the same plot (e.g. a bf16 sweep beside a w8a8 one).",
            AllowMultipleArgumentsPerToken = true,
        };
        var asyncScheduling = new AsyncSchedulingOptions();
        var eager = new Option<bool>("--enforce-eager") { Description = "Never replay decode steps from CUDA graphs." };
        var batchedTokens = new Option<int?>("--max-num-batched-tokens")
        {
            Description = "Tokens per engine step (prefill chunks plus decodes), at least --input-len. Default: 2048, as serve.",
        };
        var cmd = new Command("bench", "Measure decode speed, throughput, TTFT and TPOT through the engine.");
        foreach (var o in a.All) cmd.Options.Add(o);
        foreach (var o in new Option[] { concurrency, promptLen, outputLen, kvBlocks, output, plot, compare, eager, batchedTokens }.Concat(asyncScheduling.All)) cmd.Options.Add(o);
        cmd.SetAction(p =>
        {
            var levels = ParseLevels(p.GetValue(concurrency)!);
            bool? asyncMode = asyncScheduling.Value(p);   // before loading: a contradiction fails fast
            var earlier = (p.GetValue(compare) ?? []).Select(f => LatencyThroughputPlot.ReadSeries(f)).ToList();   // read first: a bad file fails fast
            int inLen = p.GetValue(promptLen), outLen = p.GetValue(outputLen), most = levels.Max();
            using var loaded = ModelLoading.Load(p, a, quantization, Console.Error.WriteLine, showProgress: false);
            const int blockSize = 16;
            // 8192 measured no faster on the H100 at 64 × 128/128 (docs/benchmarks/h100-continuous-batching.json) and raised TTFT.
            int stepTokens = Math.Max(p.GetValue(batchedTokens) ?? new SchedulerOptions().MaxNumBatchedTokens, inLen);
            int blocks = p.GetValue(kvBlocks) ?? most * ((inLen + outLen + blockSize - 1) / blockSize + 1) + 1;
            using var engine = loaded.CreateEngine(new EngineOptions
            {
                NumKvBlocks = blocks,
                // The pool above holds exactly this run's sequences; a longer --max-model-len would only warn about it.
                MaxModelLen = p.GetValue(a.MaxModelLen) ?? inLen + outLen,
                BlockSize = blockSize,
                EnforceEager = p.GetValue(eager),
                AsyncScheduling = asyncMode,
                Scheduler = new SchedulerOptions { MaxNumSeqs = most, MaxNumBatchedTokens = stepTokens },
            }, Console.Error.WriteLine);
            engine.Start();
            while (!engine.IsReady)
            {
                if (engine.Failure is { } failure)
                    throw new InvalidOperationException($"the engine stopped while warming up: {failure.Message} (the log above has the stack)");
                Thread.Sleep(10);
            }
            var rng = new Random(0);
            int vocab = loaded.Model.Config.VocabSize;
            int[] Prompt() => Enumerable.Range(0, inLen).Select(_ => rng.Next(3, vocab)).ToArray();
            // One warm-up request, then the measured runs.
            RunOne(engine, "warmup", Prompt(), 4).GetAwaiter().GetResult();
            var reports = new List<Dictionary<string, object>>();
            foreach (var n in levels)
            {
                long stepsBefore = engine.Stats.Steps;
                var sw = Stopwatch.StartNew();
                var runs = Enumerable.Range(0, n).Select(i => RunOne(engine, $"bench{n}-{i}", Prompt(), outLen)).ToArray();
                var results = Task.WhenAll(runs).GetAwaiter().GetResult();
                double wall = sw.Elapsed.TotalSeconds;
                var ttft = results.Select(r => r.Ttft).Order().ToArray();
                var tpot = results.Select(r => r.Tpot).Order().ToArray();
                long steps = engine.Stats.Steps - stepsBefore;
                reports.Add(new Dictionary<string, object>
                {
                    ["model"] = loaded.Model.Config.Architecture,
                    ["model_dir"] = loaded.ModelDir,
                    ["device"] = loaded.Model.Device.ToString(),
                    ["dtype"] = loaded.Model.Dtype.ToString(),
                    ["quantization"] = loaded.Options?.Quantization.Name ?? "none",
                    ["cuda_graphs"] = loaded.Model.Device.type == TorchSharp.DeviceType.CUDA && !p.GetValue(eager),
                    ["async_scheduling"] = engine.AsyncScheduling,
                    ["concurrency"] = n,
                    ["input_len"] = inLen,
                    ["output_len"] = outLen,
                    ["max_num_batched_tokens"] = stepTokens,
                    ["wall_s"] = wall,
                    ["engine_steps"] = steps,
                    ["mean_step_ms"] = wall * 1000 / Math.Max(1, steps),
                    ["output_tokens_per_s"] = n * outLen / wall,
                    ["single_stream_decode_tokens_per_s"] = 1.0 / Percentile(tpot, 0.5),
                    ["ttft_ms"] = Percentiles(ttft),
                    ["tpot_ms"] = Percentiles(tpot),
                });
                Console.Error.WriteLine($"concurrency {n}: {n * outLen / wall:F1} output tok/s, TTFT p50 {Percentile(ttft, 0.5) * 1000:F1} ms, TPOT p50 {Percentile(tpot, 0.5) * 1000:F2} ms");
            }
            object result = reports.Count == 1 ? reports[0] : new Dictionary<string, object> { ["runs"] = reports };
            var json = JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true });
            BenchTable.Write(Console.Out, reports);
            if (p.GetValue(output) is { } path)
            {
                File.WriteAllText(path, json + "\n");
                Console.Error.WriteLine($"wrote {Path.GetFullPath(path)}");
            }
            if (p.GetValue(plot) is { } png)
            {
                var label = $"{loaded.Model.Config.Architecture} {Path.GetFileName(Path.TrimEndingDirectorySeparator(loaded.ModelDir))}, {inLen} in / {outLen} out, {loaded.Model.Device}";
                using var doc = JsonDocument.Parse(json);
                LatencyThroughputPlot.Save(png, label, [LatencyThroughputPlot.SeriesOf(doc.RootElement), .. earlier], Console.Error.WriteLine);
            }
            return 0;
        });
        return cmd;
    }

    private static int[] ParseLevels(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var levels = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], out levels[i]) || levels[i] < 1)
                throw new ArgumentException($"--concurrency {text}: expected positive integers separated by commas.");
        return levels.Length > 0 ? levels : throw new ArgumentException("--concurrency: no level given.");
    }

    private static async Task<(double Ttft, double Tpot)> RunOne(IInferenceEngine engine, string id, int[] prompt, int outLen)
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
