#!/usr/bin/env -S dotnet run --file
// The sampler's step at batch 64 with and without structured-output constraints, on CPU: the same [64, V] random
// logits (N(0, 3²), a stand-in for a model that knows no JSON, so rows wander through the grammar), temperature 1,
// each row's sampled token appended to its output as the engine does, a row restarting after EOS or max_tokens.
// Constrained rows follow a strict JSON Schema (nested object, enum, array, anyOf + $ref) or json_object.
// Per vocabulary it reports: the unconstrained step, the constrained step once masks are cached (the steady state),
// the host part alone (64 matchers writing their masks), and the cold cost of building a state's mask on first visit.
// Usage: dotnet run tests/scripts/bench-structured-outputs.cs [--steps N] [--out FILE] [MODEL_OR_TOKENIZER_DIR ...]
//   default dirs: src/Assets/tiny-llama and .cache/tokenizers/llama3 (tests/scripts/fetch-tokenizers.sh) when present.
#:project ../../src/Engine/Engine.csproj
#:project ../../src/StructuredOutputs/StructuredOutputs.csproj
#:property Configuration=Release
#:property PublishAot=false
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using InferenceServer.Engine.Sampling;
using InferenceServer.StructuredOutputs;
using InferenceServer.Tokenization;
using static TorchSharp.torch;

const int Batch = 64, MaxTokens = 200;
const string Schema = """
    {"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},"height":{"type":"number"},
     "mood":{"enum":["happy","happier","sad"]},"tags":{"type":"array","items":{"type":"string"}},
     "pet":{"anyOf":[{"type":"null"},{"$ref":"#/$defs/pet"}]}},
     "required":["name","age","height","mood","tags","pet"],"additionalProperties":false,
     "$defs":{"pet":{"type":"object","properties":{"kind":{"type":"string"},"legs":{"type":"integer"}},"required":["kind","legs"],"additionalProperties":false}}}
    """;

if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine("Usage: dotnet run tests/scripts/bench-structured-outputs.cs [--steps N] [--out FILE] [MODEL_OR_TOKENIZER_DIR ...]");
    Console.WriteLine("Times the sampler step at batch 64 with and without structured-output constraints on CPU and writes JSON.");
    return 0;
}
string root = FindRoot();
int steps = 200;
string outPath = Path.Combine(root, "docs", "benchmarks", "cpu-structured-outputs.json");
var dirs = new List<string>();
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--steps" && i + 1 < args.Length && int.TryParse(args[++i], out var s) && s > 0) steps = s;
    else if (args[i] == "--out" && i + 1 < args.Length) outPath = args[++i];
    else if (args[i].StartsWith("--")) { Console.Error.WriteLine($"unknown flag {args[i]}; see --help"); return 2; }
    else dirs.Add(args[i]);
}
if (dirs.Count == 0)
{
    dirs.Add(Path.Combine(root, "src", "Assets", "tiny-llama"));
    var llama3 = Path.Combine(root, ".cache", "tokenizers", "llama3");
    if (Directory.Exists(llama3)) dirs.Add(llama3);
}

// One intra-op thread: the step is small, and on a shared machine libtorch's thread barriers only add noise.
set_num_threads(1);
var results = new JsonArray();
foreach (var dir in dirs)
{
    if (!Directory.Exists(dir)) { Console.Error.WriteLine($"{dir}: no such folder"); return 2; }
    var tokenizer = TokenizerLoader.Load(dir).Tokenizer;
    int vocab = tokenizer.VocabSize;
    var sw = Stopwatch.StartNew();
    var vocabulary = TokenVocabulary.FromTokenizer(tokenizer);
    double trieMs = sw.Elapsed.TotalMilliseconds;
    int eos = tokenizer.EosTokenId ?? 0;
    using var logits = randn(Batch, vocab) * 3;
    var entry = new JsonObject { ["tokenizer"] = Path.GetFileName(Path.GetFullPath(dir)), ["vocab_size"] = vocab, ["vocabulary_trie_ms"] = Math.Round(trieMs, 1) };
    foreach (var (name, grammarFn) in new (string, Func<StructuredOutputCompiler, TokenGrammar>)[]
    {
        ("json_schema", c => c.JsonSchema(JsonDocument.Parse(Schema).RootElement)),
        ("json_object", c => c.JsonObject()),
    })
    {
        sw.Restart();
        var grammar = grammarFn(new StructuredOutputCompiler(vocabulary));
        double compileMs = sw.Elapsed.TotalMilliseconds;
        var (hostCached, coldMaskMs, masks) = HostMasks(grammar);
        var (plain, constrained, extra) = Interleaved(new Constraint(grammar));
        Console.WriteLine($"{entry["tokenizer"]} V={vocab} {name}: step p50 {plain["p50"]} ms unconstrained, {constrained["p50"]} ms constrained (+{extra["p50"]} ms); host masks p50 {hostCached["p50"]} ms; {coldMaskMs:F2} ms per new mask ({masks} masks)");
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
    results.Add((JsonNode)entry);

    // Unconstrained and constrained steps alternate, so machine load weighs on both alike; "extra" is the per-pair difference.
    (JsonObject, JsonObject, JsonObject) Interleaved(ILogitsConstraint constraint)
    {
        using var plainSampler = new Sampler([eos], sharedSeed: 1);
        using var constrainedSampler = new Sampler([eos], sharedSeed: 1);
        var plainOut = Enumerable.Range(0, Batch).Select(_ => new List<int>()).ToArray();
        var plainRows = plainOut.Select(o => Row(null, o)).ToArray();
        var out2 = Enumerable.Range(0, Batch).Select(_ => new List<int>()).ToArray();
        var rows2 = out2.Select(o => Row(constraint, o)).ToArray();
        for (int i = 0; i < 20; i++)   // warm-up: JIT, and the first masks
        {
            Step(plainSampler, logits, eos, plainRows, plainOut, null);
            Step(constrainedSampler, logits, eos, rows2, out2, constraint);
        }
        var a = new double[steps];
        var b = new double[steps];
        for (int i = 0; i < steps; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            Step(plainSampler, logits, eos, plainRows, plainOut, null);
            a[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            t0 = Stopwatch.GetTimestamp();
            Step(constrainedSampler, logits, eos, rows2, out2, constraint);
            b[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }
        return (Summary(a), Summary(b), Summary(b.Zip(a, (x, y) => x - y).ToArray()));
    }

    // The host part alone: 64 matchers on random walks writing their masks, as the sampler's plan does. Steps that
    // built no mask give the cached cost; the time of the others, less that, per mask built, gives the cold cost.
    (JsonObject Cached, double ColdPerMask, int Masks) HostMasks(TokenGrammar grammar)
    {
        var random = new Random(3);
        int words = grammar.Vocabulary.MaskWords;
        var matchers = Enumerable.Range(0, Batch).Select(_ => grammar.NewMatcher()).ToArray();
        var generated = new int[Batch];
        var mask = new uint[Batch * words];
        var cached = new List<double>();
        double coldTime = 0;
        int coldMasks = 0;
        for (int i = 0; i < steps; i++)
        {
            int before = grammar.MasksBuilt;
            long t0 = Stopwatch.GetTimestamp();
            for (int r = 0; r < Batch; r++) matchers[r].WriteAllowed(mask.AsSpan(r * words, words), MaxTokens - generated[r]);
            double ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            if (grammar.MasksBuilt == before) cached.Add(ms);
            else { coldTime += ms; coldMasks += grammar.MasksBuilt - before; }
            for (int r = 0; r < Batch; r++)   // advance each by a random allowed token; restart when it may end (1 in 10) or must
            {
                var row = mask.AsSpan(r * words, words);
                var allowed = new List<int>();
                for (int id = 0; id < vocab; id++) if ((row[id >> 5] & (1u << (id & 31))) != 0) allowed.Add(id);
                if (allowed.Count == 0 || (matchers[r].CanEnd && random.Next(10) == 0)) { matchers[r] = grammar.NewMatcher(); generated[r] = 0; }
                else { matchers[r].TryAdvance(allowed[random.Next(allowed.Count)]); generated[r]++; }
            }
        }
        double cachedMedian = cached.Count > 0 ? Percentile([.. cached], 50) : 0;
        return (cached.Count > 0 ? Summary([.. cached]) : new JsonObject(), coldMasks > 0 ? Math.Max(0, coldTime - cachedMedian * (steps - cached.Count)) / coldMasks : 0, grammar.MasksBuilt);
    }
}

var doc = new JsonObject
{
    ["what"] = "Sampler.Sample at batch 64 on CPU, one libtorch thread (float32 [64, V] random logits, temperature 1, seeded), each row's token appended to its output as the engine does; constrained rows follow the schema in tests/scripts/bench-structured-outputs.cs or json_object. Unconstrained and constrained steps alternate; constraint_extra_ms is their per-step difference. host_masks_cached_ms: 64 matchers writing cached masks (the host part of a constrained step); mask_build_ms: one new state's mask (a vocabulary-trie walk), paid once per state per grammar. machine_load: the 1-minute load average at the end of the run (the machine is shared; absolute times are inflated by it).",
    ["command"] = "dotnet run tests/scripts/bench-structured-outputs.cs",
    ["cpu"] = CpuName(),
    ["cores"] = Environment.ProcessorCount,
    ["torch_threads"] = 1,
    ["machine_load"] = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "unknown",
    ["batch"] = Batch,
    ["steps"] = steps,
    ["date"] = DateTime.UtcNow.ToString("yyyy-MM-dd"),
    ["results"] = results,
};
Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
File.WriteAllText(outPath, doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
Console.WriteLine($"wrote {outPath}");
return 0;

static SequenceSamplingInput Row(ILogitsConstraint? constraint, List<int> output) =>
    new(new SamplingParams { Temperature = 1f, MaxTokens = MaxTokens, Constraint = constraint }, [], output);

static void Step(Sampler sampler, Tensor logits, int eos, SequenceSamplingInput[] rows, List<int>[] outputs, ILogitsConstraint? constraint)
{
    using var scope = NewDisposeScope();
    var samples = sampler.Sample(logits, rows);
    for (int b = 0; b < rows.Length; b++)
    {
        outputs[b].Add(samples[b].TokenId);
        if (outputs[b].Count >= MaxTokens || (constraint is not null && samples[b].TokenId == eos))
        {
            outputs[b] = [];
            rows[b] = Row(constraint, outputs[b]);
        }
    }
}

static double Percentile(double[] values, int p)
{
    var sorted = values.Order().ToArray();
    return sorted[Math.Min(sorted.Length - 1, sorted.Length * p / 100)];
}

static JsonObject Summary(double[] times) => new()
{
    ["mean"] = Math.Round(times.Average(), 3),
    ["p50"] = Math.Round(Percentile(times, 50), 3),
    ["p90"] = Math.Round(Percentile(times, 90), 3),
};

static string CpuName()
{
    try
    {
        var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"));
        if (line is not null) return line[(line.IndexOf(':') + 1)..].Trim();
    }
    catch (IOException) { }
    return System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture.ToString();
}

static string FindRoot()
{
    for (var d = new DirectoryInfo(Directory.GetCurrentDirectory()); d is not null; d = d.Parent)
        if (File.Exists(Path.Combine(d.FullName, "InferenceServer.sln"))) return d.FullName;
    return Directory.GetCurrentDirectory();
}

/// <summary>A compiled grammar as the engine's constraint (the server's GrammarConstraint, restated for this script).</summary>
sealed class Constraint(TokenGrammar grammar) : ILogitsConstraint
{
    public string Description => grammar.Description;
    public ILogitsConstraintState Start() => new State(grammar.NewMatcher());
    sealed class State(GrammarMatcher m) : ILogitsConstraintState
    {
        public bool CanEnd => m.CanEnd;
        public bool TryAdvance(int tokenId) => m.TryAdvance(tokenId);
        public void WriteAllowed(Span<uint> mask, int? remainingTokens) => m.WriteAllowed(mask, remainingTokens);
    }
}
