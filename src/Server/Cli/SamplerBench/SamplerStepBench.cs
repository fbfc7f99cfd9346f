using System.Diagnostics;
using System.Text.Json.Nodes;
using InferenceServer.Engine.Runtime;
using InferenceServer.Engine.Sampling;
using InferenceServer.Server.Constraints;
using InferenceServer.StructuredOutputs;
using static TorchSharp.torch;

namespace InferenceServer.Server.Cli.SamplerBench;

/// <summary>
/// The sampler's step at batch B with and without a structured-output constraint over one vocabulary: the same
/// [B, V] random logits (N(0, 3²), a stand-in for a model that knows no JSON, so rows wander through the grammar) on
/// the device, temperature 1, each row's sampled token appended to its output as the engine does, a row restarting
/// after EOS or max_tokens. Unconstrained and constrained steps alternate, so load on the machine weighs on both
/// alike; the extra cost is the per-pair difference.
/// </summary>
public sealed class SamplerStepBench(int batch, int steps, Device device)
{
    private const int MaxTokens = 200;

    /// <summary>Unconstrained step, constrained step, and their per-pair difference, in ms.</summary>
    public (JsonObject Plain, JsonObject Constrained, JsonObject Extra) Interleaved(TokenGrammar grammar, int eos)
    {
        var constraint = new GrammarConstraint(grammar);
        using var logits = randn(batch, grammar.Vocabulary.Size, device: device).mul_(Scalars.Of(3));
        using var plainSampler = new Sampler([eos], sharedSeed: 1);
        using var constrainedSampler = new Sampler([eos], sharedSeed: 1);
        var plain = new Rows(batch, null);
        var constrained = new Rows(batch, constraint);
        for (int i = 0; i < 20; i++)   // warm-up: JIT, the first masks, CUDA kernels' first launches
        {
            plain.Step(plainSampler, logits, eos);
            constrained.Step(constrainedSampler, logits, eos);
        }
        var a = new double[steps];
        var b = new double[steps];
        for (int i = 0; i < steps; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            plain.Step(plainSampler, logits, eos);
            a[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            t0 = Stopwatch.GetTimestamp();
            constrained.Step(constrainedSampler, logits, eos);
            b[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }
        return (Summary(a), Summary(b), Summary(b.Zip(a, (x, y) => x - y).ToArray()));
    }

    /// <summary>
    /// The host part alone: B matchers on random walks writing their masks, as the sampler's plan does. Steps that
    /// built no mask give the cached cost; the time of the others, less that, per mask built, gives the cold cost.
    /// </summary>
    public (JsonObject Cached, double ColdPerMask, int Masks) HostMasks(TokenGrammar grammar)
    {
        var random = new Random(3);
        int words = grammar.Vocabulary.MaskWords, vocab = grammar.Vocabulary.Size;
        var matchers = Enumerable.Range(0, batch).Select(_ => grammar.NewMatcher()).ToArray();
        var generated = new int[batch];
        var mask = new uint[batch * words];
        var cached = new List<double>();
        double coldTime = 0;
        int coldMasks = 0;
        for (int i = 0; i < steps; i++)
        {
            int before = grammar.MasksBuilt;
            long t0 = Stopwatch.GetTimestamp();
            for (int r = 0; r < batch; r++) matchers[r].WriteAllowed(mask.AsSpan(r * words, words), MaxTokens - generated[r]);
            double ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            if (grammar.MasksBuilt == before) cached.Add(ms);
            else { coldTime += ms; coldMasks += grammar.MasksBuilt - before; }
            for (int r = 0; r < batch; r++)   // advance each by a random allowed token; restart when it may end (1 in 10) or must
            {
                var row = mask.AsSpan(r * words, words);
                var allowed = new List<int>();
                for (int id = 0; id < vocab; id++) if ((row[id >> 5] & (1u << (id & 31))) != 0) allowed.Add(id);
                if (allowed.Count == 0 || (matchers[r].CanEnd && random.Next(10) == 0)) { matchers[r] = grammar.NewMatcher(); generated[r] = 0; }
                else { matchers[r].TryAdvance(allowed[random.Next(allowed.Count)]); generated[r]++; }
            }
        }
        double cachedMedian = cached.Count > 0 ? Percentile([.. cached], 50) : 0;
        return (cached.Count > 0 ? Summary([.. cached]) : new JsonObject(),
            coldMasks > 0 ? Math.Max(0, coldTime - cachedMedian * (steps - cached.Count)) / coldMasks : 0, grammar.MasksBuilt);
    }

    /// <summary>B requests' sampling inputs and outputs, restarted as the engine would when one finishes.</summary>
    private sealed class Rows
    {
        private readonly ILogitsConstraint? _constraint;
        private readonly List<int>[] _outputs;
        private readonly SequenceSamplingInput[] _inputs;

        public Rows(int batch, ILogitsConstraint? constraint)
        {
            _constraint = constraint;
            _outputs = Enumerable.Range(0, batch).Select(_ => new List<int>()).ToArray();
            _inputs = _outputs.Select(New).ToArray();
        }

        private SequenceSamplingInput New(List<int> output) =>
            new(new SamplingParams { Temperature = 1f, MaxTokens = MaxTokens, Constraint = _constraint }, [], output);

        public void Step(Sampler sampler, Tensor logits, int eos)
        {
            using var scope = NewDisposeScope();
            var samples = sampler.Sample(logits, _inputs);
            for (int b = 0; b < _inputs.Length; b++)
            {
                _outputs[b].Add(samples[b].TokenId);
                if (_outputs[b].Count >= MaxTokens || (_constraint is not null && samples[b].TokenId == eos))
                {
                    _outputs[b] = [];
                    _inputs[b] = New(_outputs[b]);
                }
            }
        }
    }

    private static double Percentile(double[] values, int p)
    {
        var sorted = values.Order().ToArray();
        return sorted[Math.Min(sorted.Length - 1, sorted.Length * p / 100)];
    }

    private static JsonObject Summary(double[] times) => new()
    {
        ["mean"] = Math.Round(times.Average(), 3),
        ["p50"] = Math.Round(Percentile(times, 50), 3),
        ["p90"] = Math.Round(Percentile(times, 90), 3),
    };
}
