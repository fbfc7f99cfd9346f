using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using InferenceServer.Engine.Runtime;
using InferenceServer.Server.Cli.KernelBench;
using InferenceServer.Server.Cli.SamplerBench;
using InferenceServer.StructuredOutputs;
using InferenceServer.Tokenization;
using static TorchSharp.torch;

namespace InferenceServer.Server.Cli;

/// <summary>
/// <c>bench-sampler</c>: the cost of structured outputs in the sampler, on the CPU or a GPU. For each tokenizer it
/// compiles a strict JSON Schema (nested object, enum, array, anyOf + $ref) and json_object, then reports the sampler
/// step at batch B unconstrained and constrained once masks are cached (the steady state), the host part alone (B
/// matchers writing their masks), and the cold cost of building a state's mask on first visit.
/// </summary>
public static class SamplerBenchCommand
{
    private const string Schema = """
        {"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},"height":{"type":"number"},
         "mood":{"enum":["happy","happier","sad"]},"tags":{"type":"array","items":{"type":"string"}},
         "pet":{"anyOf":[{"type":"null"},{"$ref":"#/$defs/pet"}]}},
         "required":["name","age","height","mood","tags","pet"],"additionalProperties":false,
         "$defs":{"pet":{"type":"object","properties":{"kind":{"type":"string"},"legs":{"type":"integer"}},"required":["kind","legs"],"additionalProperties":false}}}
        """;

    public static Command Create()
    {
        var tokenizers = new Option<string[]>("--tokenizer")
        {
            Description = "A model or tokenizer folder (repeatable; default: the embedded tiny-llama).",
            AllowMultipleArgumentsPerToken = true,
        };
        var device = new Option<string>("--device") { Description = "cpu, cuda or auto.", DefaultValueFactory = _ => "cpu" };
        var libtorch = new Option<string?>("--libtorch") { Description = "Folder of a CUDA build of libtorch; also INFERENCE_LIBTORCH." };
        var batch = new Option<int>("--batch") { Description = "Rows per sampler step.", DefaultValueFactory = _ => 64 };
        var steps = new Option<int>("--steps") { Description = "Timed steps per measurement.", DefaultValueFactory = _ => 200 };
        var threads = new Option<int>("--torch-threads") { Description = "libtorch intra-op threads on the CPU (1 keeps a shared machine's noise out).", DefaultValueFactory = _ => 1 };
        var output = new Option<string?>("--output-json") { Description = "Also write the result to this file." };
        var cmd = new Command("bench-sampler", "Time the sampler step with and without structured-output constraints (json_schema, json_object).");
        foreach (var o in new Option[] { tokenizers, device, libtorch, batch, steps, threads, output }) cmd.Options.Add(o);
        cmd.SetAction(p =>
        {
            int rows = p.GetValue(batch), count = p.GetValue(steps);
            if (rows < 1 || count < 1) throw new ArgumentException("--batch and --steps must be at least 1.");
            var dirs = p.GetValue(tokenizers) is { Length: > 0 } given ? given : [DefaultModel.TinyLlamaDir()];
            foreach (var d in dirs)
                if (!Directory.Exists(d)) throw new DirectoryNotFoundException($"--tokenizer {Path.GetFullPath(d)}: no such folder.");
            var dev = TorchRuntime.Initialize(p.GetValue(device)!, p.GetValue(libtorch), Console.Error.WriteLine);
            if (dev.type == TorchSharp.DeviceType.CPU) set_num_threads(p.GetValue(threads));
            var bench = new SamplerStepBench(rows, count, dev);
            var results = new JsonArray();
            foreach (var dir in dirs) results.Add(BenchTokenizer(bench, dir));
            var doc = new JsonObject
            {
                ["what"] = $"Sampler.Sample at batch {rows} on {dev.type} (float32 [{rows}, V] random logits N(0, 3²), temperature 1, seeded), each row's token appended to its output as the engine does; constrained rows follow the strict schema in src/Server/Cli/SamplerBenchCommand.cs or json_object. Unconstrained and constrained steps alternate; constraint_extra_ms is their per-step difference. host_masks_cached_ms: {rows} matchers writing cached masks (the host part of a constrained step); mask_build_ms: one new state's mask (a vocabulary-trie walk), paid once per state per grammar.",
                ["command"] = "InferenceServer bench-sampler " + string.Join(' ', Environment.GetCommandLineArgs().Skip(2)),
                ["device"] = dev.type == TorchSharp.DeviceType.CUDA ? KernelBenchContext.GpuName() : CpuName(),
                ["cores"] = Environment.ProcessorCount,
                ["torch_threads"] = dev.type == TorchSharp.DeviceType.CPU ? p.GetValue(threads) : null,
                ["machine_load"] = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "unknown",
                ["batch"] = rows,
                ["steps"] = count,
                ["date"] = DateTime.UtcNow.ToString("yyyy-MM-dd"),
                ["results"] = results,
            };
            var json = doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }) + "\n";
            Console.WriteLine(json);
            if (p.GetValue(output) is { } path) File.WriteAllText(path, json);
            return 0;
        });
        return cmd;
    }

    private static JsonObject BenchTokenizer(SamplerStepBench bench, string dir)
    {
        var tokenizer = TokenizerLoader.Load(dir).Tokenizer;
        var sw = Stopwatch.StartNew();
        var vocabulary = TokenVocabulary.FromTokenizer(tokenizer);
        double trieMs = sw.Elapsed.TotalMilliseconds;
        int eos = tokenizer.EosTokenId ?? 0;
        var entry = new JsonObject { ["tokenizer"] = Path.GetFileName(Path.GetFullPath(dir)), ["vocab_size"] = vocabulary.Size, ["vocabulary_trie_ms"] = Math.Round(trieMs, 1) };
        foreach (var (name, compile) in new (string, Func<StructuredOutputCompiler, TokenGrammar>)[]
        {
            ("json_schema", c => c.JsonSchema(JsonDocument.Parse(Schema).RootElement)),
            ("json_object", c => c.JsonObject()),
        })
        {
            sw.Restart();
            var grammar = compile(new StructuredOutputCompiler(vocabulary));
            double compileMs = sw.Elapsed.TotalMilliseconds;
            var (hostCached, coldMaskMs, masks) = bench.HostMasks(grammar);
            var (plain, constrained, extra) = bench.Interleaved(grammar, eos);
            Console.Error.WriteLine($"{entry["tokenizer"]} V={vocabulary.Size} {name}: step p50 {plain["p50"]} ms unconstrained, {constrained["p50"]} ms constrained (+{extra["p50"]} ms); host masks p50 {hostCached["p50"]} ms; {coldMaskMs:F2} ms per new mask ({masks} masks)");
            entry[name] = new JsonObject
            {
                ["compile_ms"] = Math.Round(compileMs, 2),
                ["unconstrained_step_ms"] = plain,
                ["constrained_step_ms"] = constrained,
                ["constraint_extra_ms"] = extra,
                ["host_masks_cached_ms"] = hostCached,
                ["mask_build_ms"] = Math.Round(coldMaskMs, 3),
                ["masks_built"] = masks,
            };
        }
        return entry;
    }

    private static string CpuName()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"));
            if (line is not null) return line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException) { }
        return System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString();
    }
}
