#!/usr/bin/env -S dotnet run --file
// Throughput of each managed INT8 GEMM path (src/Quant/Kernels/Int8Gemm.cs: scalar and the SIMD paths this CPU has) on
// a prefill-sized shape (tiny-llama's gate_up: M=1024, K=256, N=1536) and a decode row against a Llama-sized weight
// (M=1, K=4096, N=14336). A measurement, not a test: it was Quant.Tests' Int8GemmTests.ReportsThroughput, which only
// printed. `InferenceServer bench-kernels` times the CUDA INT8 GEMMs; this times the CPU ones.
// Usage: dotnet run tests/scripts/bench-int8-gemm.cs [M,K,N ...]   (e.g. 1024,256,1536 1,4096,14336)
#:project ../../src/Quant/Quant.csproj
#:property Configuration=Release
using System.Diagnostics;
using InferenceServer.Quant.Kernels;

var shapes = args.Length > 0
    ? args.Select(a => a.Split(',').Select(int.Parse).ToArray()).ToArray()
    : [[1024, 256, 1536], [1, 4096, 14336]];
foreach (var shape in shapes)
{
    if (shape.Length != 3) { Console.Error.WriteLine("each shape is M,K,N"); return 2; }
    int m = shape[0], k = shape[1], n = shape[2];
    var rng = new Random(7);
    var a = RandomBytes(rng, m * k, -128);
    var b = RandomBytes(rng, n * k, -127);
    var sums = Int8Gemm.RowSums(b, n, k);
    var c = new int[m * n];
    foreach (var path in Int8Gemm.AvailablePaths)
    {
        Int8Gemm.Multiply(a, b, c, m, n, k, path, sums); // warm-up (JIT)
        int reps = path == Int8GemmPath.Scalar ? 1 : 5;
        var sw = Stopwatch.StartNew();
        for (int r = 0; r < reps; r++) Int8Gemm.Multiply(a, b, c, m, n, k, path, sums);
        double gmacs = (double)m * n * k * reps / sw.Elapsed.TotalSeconds / 1e9;
        Console.WriteLine($"M={m} K={k} N={n} {path}: {gmacs:F1} GMAC/s on {Environment.ProcessorCount} cores");
    }
}
return 0;

static sbyte[] RandomBytes(Random rng, int count, int min)
{
    var r = new sbyte[count];
    for (int i = 0; i < count; i++) r[i] = (sbyte)rng.Next(min, 128);
    return r;
}
