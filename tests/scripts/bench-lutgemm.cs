#!/usr/bin/env -S dotnet run --file
// LUT-GEMM on the CPU (src/Quant/Kernels/LutGemm.cs) against two baselines at one activation row (decode): the dense
// float32 matmul of weights kept in float32 (TorchSharp linear, i.e. MKL), and dequantize-then-matmul, which unpacks
// the same BCQ weights to float32 Wᵀ on every call (a parallel C# loop) and then multiplies with TorchSharp mm (what
// a weight-only kernel without tables does). Weights are random BCQ, g = 128. A measurement, not a test.
// Usage: dotnet run tests/scripts/bench-lutgemm.cs [N,K ...] [--bits 3,4] [--json out.json]
#:project ../../src/Quant/Quant.csproj
#:property Configuration=Release
#:property PublishAot=false
using InferenceServer.Quant.Formats;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using InferenceServer.Quant.LutGemm;
using static TorchSharp.torch;

var argList = args.ToList();
string? jsonPath = Take("--json");
int[] bitsList = (Take("--bits") ?? "3,4").Split(',').Select(int.Parse).ToArray();
var shapes = argList.Count > 0
    ? argList.Select(a => a.Split(',').Select(int.Parse).ToArray()).ToArray()
    : [[4096, 4096], [11008, 4096]];
const int group = 128;
var results = new List<Dictionary<string, object>>();
foreach (var shape in shapes)
{
    int n = shape[0], k = shape[1];
    var rng = new Random(1);
    var x = Enumerable.Range(0, k).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
    using var xt = tensor(x, [1, k]);
    using var dense = randn([n, k]) * 0.02f;
    double denseUs = Time(() => { using var y = nn.functional.linear(xt, dense); });
    foreach (var bits in bitsList)
    {
        var w = RandomBcq(n, k, bits, rng);
        var y = new float[n];
        var buffer = new float[(long)n * k];
        double lutUs = Time(() => InferenceServer.Quant.Kernels.LutGemm.Multiply(x, w, y, 1));
        double dequantUs = Time(() => { Dequantize(w, buffer); using var wt = tensor(buffer, [k, n]); using var yd = xt.mm(wt); });
        double unpackUs = Time(() => Dequantize(w, buffer));
        var r = new Dictionary<string, object>
        {
            ["n"] = n, ["k"] = k, ["m"] = 1, ["bits"] = bits, ["group_size"] = group,
            ["lutgemm_us"] = Math.Round(lutUs, 1), ["dequantize_then_matmul_us"] = Math.Round(dequantUs, 1), ["dense_fp32_us"] = Math.Round(denseUs, 1), ["of_which_dequantize_us"] = Math.Round(unpackUs, 1),
            ["speedup_vs_dequantize"] = Math.Round(dequantUs / lutUs, 2), ["speedup_vs_dense_fp32"] = Math.Round(denseUs / lutUs, 2),
            ["bcq_bytes"] = w.Bytes, ["fp32_bytes"] = 4L * n * k,
        };
        Console.Error.WriteLine($"N={n} K={k} q={bits}: LUT-GEMM {lutUs:F1} µs, dequantize+matmul {dequantUs:F1} µs, dense fp32 {denseUs:F1} µs, dequantize alone {unpackUs:F1} µs");
        results.Add(r);
    }
}
var json = JsonSerializer.Serialize(new Dictionary<string, object>
{
    ["cpu_threads"] = Environment.ProcessorCount,
    ["torch_threads"] = get_num_threads(),
    ["results"] = results,
}, new JsonSerializerOptions { WriteIndented = true });
Console.WriteLine(json);
if (jsonPath is not null) File.WriteAllText(jsonPath, json);
return 0;

// Median of 5 runs of a batch lasting at least ~50 ms, in µs per call, after a warm-up.
static double Time(Action op)
{
    op();
    int reps = 1;
    var sw = Stopwatch.StartNew();
    op();
    reps = Math.Max(1, (int)(50 / Math.Max(sw.Elapsed.TotalMilliseconds, 1e-3)));
    var samples = new List<double>();
    for (int s = 0; s < 5; s++)
    {
        sw.Restart();
        for (int r = 0; r < reps; r++) op();
        samples.Add(sw.Elapsed.TotalMilliseconds * 1000 / reps);
    }
    samples.Sort();
    return samples[2];
}

// Wᵀ [K, N] = Σ_i α·b + offset, one input channel per task: the packed layout has N innermost, so every read and
// write runs along N.
static void Dequantize(BcqWeights w, float[] dst) => Parallel.For(0, w.InFeatures, c => DequantizeChannel(w, dst, c));

[MethodImpl(MethodImplOptions.AggressiveOptimization)] // optimized from the first call, like the kernels it is compared with
static void DequantizeChannel(BcqWeights w, float[] dst, int c)
{
    int n = w.OutFeatures, words = w.Words, groups = w.Groups;
    int g = c / w.GroupSize, shift = c % 32;
    var row = dst.AsSpan((int)((long)c * n), n);
    w.Offset.AsSpan(g * n, n).CopyTo(row);
    for (int i = 0; i < w.Bits; i++)
    {
        var a = w.Alpha.AsSpan((i * groups + g) * n, n);
        var s = w.Signs.AsSpan((i * words + c / 32) * n, n);
        for (int j = 0; j < n; j++) row[j] += (s[j] >> shift & 1) != 0 ? a[j] : -a[j];
    }
}

static BcqWeights RandomBcq(int n, int k, int bits, Random rng)
{
    int words = BcqWeights.WordsFor(k), groups = BcqWeights.GroupsFor(k, 128);
    var signs = new uint[bits * words * n];
    for (int i = 0; i < signs.Length; i++) signs[i] = (uint)rng.NextInt64(0, 1L << 32);
    var alpha = Enumerable.Range(0, bits * groups * n).Select(i => 0.01f / (1 << (i / (groups * n)))).ToArray();
    return new BcqWeights(n, k, bits, 128, signs, alpha, new float[groups * n]);
}

string? Take(string name)
{
    int i = argList.IndexOf(name);
    if (i < 0 || i + 1 >= argList.Count) return null;
    var v = argList[i + 1];
    argList.RemoveRange(i, 2);
    return v;
}
