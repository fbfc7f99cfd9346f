using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace InferenceServer.Quant.Kernels;

/// <summary>Instruction sets the INT8 GEMM can use, slowest first.</summary>
public enum Int8GemmPath
{
    Scalar,
    /// <summary>vpsignb + vpmaddubsw + vpmaddwd: 32 products per step.</summary>
    Avx2,
    /// <summary>vpsignb + vpdpbusd (AVX-VNNI, 256-bit): one fused multiply-add per 32 products.</summary>
    AvxVnni,
}

/// <summary>
/// C[m, n] = Σ_k A[m, k] · B[n, k] with int8 inputs and exact int32 results. A [M, K] is activations (any int8),
/// B [N, K] is weights, row per output channel, in [-127, 127] (symmetric quantization never makes -128).
/// </summary>
/// <remarks>
/// x86 has no signed×signed byte multiply, only unsigned×signed (vpmaddubsw, vpdpbusd). The sign trick makes the
/// left operand unsigned: a·b = |a| · (sign(a)·b). |a| ≤ 128 and |sign(a)·b| ≤ 127, so a pair sum is at most
/// 2·128·127 = 32512 and vpmaddubsw's int16 saturation never triggers; that is why B must avoid -128.
/// .NET 10 exposes no AVX-512 VNNI class (only AvxVnniInt8.V512, which needs AVX10.2), so the widest VNNI path is
/// the 256-bit AVX-VNNI one.
/// </remarks>
public static unsafe class Int8Gemm
{
    /// <summary>Tests force a path to check each against the scalar reference; null picks the best available.</summary>
    internal static Int8GemmPath? ForcedPath { get; set; }

    public static IReadOnlyList<Int8GemmPath> AvailablePaths { get; } = FindPaths();

    public static Int8GemmPath BestPath => AvailablePaths[^1];

    // Tiles of 64 activation rows × 16 weight rows: 16·K weight bytes stay in L1/L2 while 64 rows stream past.
    private const int TileM = 64, TileN = 16;
    // Below this many multiply-adds a thread hand-off costs more than it saves.
    private const long ParallelThreshold = 1L << 20;

    public static void Multiply(sbyte[] a, sbyte[] b, int[] c, int m, int n, int k, Int8GemmPath? path = null)
    {
        if (a.Length < (long)m * k || b.Length < (long)n * k || c.Length < (long)m * n)
            throw new ArgumentException($"buffers too small for [{m}, {k}] × [{n}, {k}]ᵀ");
        var p = path ?? ForcedPath ?? BestPath;
        if (!AvailablePaths.Contains(p))
            throw new NotSupportedException($"INT8 GEMM path {p} is not supported by this CPU");
        int tilesM = (m + TileM - 1) / TileM, tilesN = (n + TileN - 1) / TileN;
        if ((long)m * n * k < ParallelThreshold || tilesM * tilesN == 1)
        {
            for (int t = 0; t < tilesM * tilesN; t++) Tile(a, b, c, m, n, k, t / tilesN, t % tilesN, p);
            return;
        }
        Parallel.For(0, tilesM * tilesN, t => Tile(a, b, c, m, n, k, t / tilesN, t % tilesN, p));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: tier-0 intrinsics code is ~10× slower
    private static void Tile(sbyte[] a, sbyte[] b, int[] c, int m, int n, int k, int tm, int tn, Int8GemmPath p)
    {
        int m0 = tm * TileM, m1 = Math.Min(m, m0 + TileM), n0 = tn * TileN, n1 = Math.Min(n, n0 + TileN);
        fixed (sbyte* pa = a, pb = b)
        fixed (int* pc = c)
        {
            for (int i = m0; i < m1; i++)
            {
                sbyte* row = pa + (long)i * k;
                int* outRow = pc + (long)i * n;
                int j = n0;
                for (; j + 4 <= n1; j += 4)
                {
                    sbyte* w = pb + (long)j * k;
                    switch (p)
                    {
                        case Int8GemmPath.AvxVnni: Dot4Vnni(row, w, k, outRow + j); break;
                        case Int8GemmPath.Avx2: Dot4Avx2(row, w, k, outRow + j); break;
                        default:
                            for (int q = 0; q < 4; q++) outRow[j + q] = DotScalar(row, w + (long)q * k, 0, k);
                            break;
                    }
                }
                for (; j < n1; j++)
                    outRow[j] = p == Int8GemmPath.Scalar ? DotScalar(row, pb + (long)j * k, 0, k) : Dot1Avx2(row, pb + (long)j * k, k);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: tier-0 intrinsics code is ~10× slower
    private static int DotScalar(sbyte* a, sbyte* b, int from, int k)
    {
        int s = 0;
        for (int i = from; i < k; i++) s += a[i] * b[i];
        return s;
    }

    /// <summary>Four dot products of one activation row with weight rows w, w+k, w+2k, w+3k.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: tier-0 intrinsics code is ~10× slower
    private static void Dot4Avx2(sbyte* a, sbyte* w, int k, int* result)
    {
        var ones = Vector256.Create((short)1);
        Vector256<int> c0 = default, c1 = default, c2 = default, c3 = default;
        int i = 0;
        for (; i + 32 <= k; i += 32)
        {
            var x = Avx.LoadVector256(a + i);
            var ax = Avx2.Abs(x);
            c0 = Avx2.Add(c0, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(ax, Avx2.Sign(Avx.LoadVector256(w + i), x)), ones));
            c1 = Avx2.Add(c1, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(ax, Avx2.Sign(Avx.LoadVector256(w + k + i), x)), ones));
            c2 = Avx2.Add(c2, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(ax, Avx2.Sign(Avx.LoadVector256(w + 2 * k + i), x)), ones));
            c3 = Avx2.Add(c3, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(ax, Avx2.Sign(Avx.LoadVector256(w + 3 * k + i), x)), ones));
        }
        result[0] = Vector256.Sum(c0) + DotScalar(a, w, i, k);
        result[1] = Vector256.Sum(c1) + DotScalar(a, w + k, i, k);
        result[2] = Vector256.Sum(c2) + DotScalar(a, w + 2 * k, i, k);
        result[3] = Vector256.Sum(c3) + DotScalar(a, w + 3 * k, i, k);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: tier-0 intrinsics code is ~10× slower
    private static void Dot4Vnni(sbyte* a, sbyte* w, int k, int* result)
    {
        Vector256<int> c0 = default, c1 = default, c2 = default, c3 = default;
        int i = 0;
        for (; i + 32 <= k; i += 32)
        {
            var x = Avx.LoadVector256(a + i);
            var ax = Avx2.Abs(x);
            c0 = AvxVnni.MultiplyWideningAndAdd(c0, ax, Avx2.Sign(Avx.LoadVector256(w + i), x));
            c1 = AvxVnni.MultiplyWideningAndAdd(c1, ax, Avx2.Sign(Avx.LoadVector256(w + k + i), x));
            c2 = AvxVnni.MultiplyWideningAndAdd(c2, ax, Avx2.Sign(Avx.LoadVector256(w + 2 * k + i), x));
            c3 = AvxVnni.MultiplyWideningAndAdd(c3, ax, Avx2.Sign(Avx.LoadVector256(w + 3 * k + i), x));
        }
        result[0] = Vector256.Sum(c0) + DotScalar(a, w, i, k);
        result[1] = Vector256.Sum(c1) + DotScalar(a, w + k, i, k);
        result[2] = Vector256.Sum(c2) + DotScalar(a, w + 2 * k, i, k);
        result[3] = Vector256.Sum(c3) + DotScalar(a, w + 3 * k, i, k);
    }

    /// <summary>The leftover columns (N mod 4) on the SIMD paths.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: tier-0 intrinsics code is ~10× slower
    private static int Dot1Avx2(sbyte* a, sbyte* w, int k)
    {
        var ones = Vector256.Create((short)1);
        Vector256<int> acc = default;
        int i = 0;
        for (; i + 32 <= k; i += 32)
        {
            var x = Avx.LoadVector256(a + i);
            acc = Avx2.Add(acc, Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Avx2.Abs(x), Avx2.Sign(Avx.LoadVector256(w + i), x)), ones));
        }
        return Vector256.Sum(acc) + DotScalar(a, w, i, k);
    }

    private static List<Int8GemmPath> FindPaths()
    {
        var paths = new List<Int8GemmPath> { Int8GemmPath.Scalar };
        if (Avx2.IsSupported) paths.Add(Int8GemmPath.Avx2);
        if (Avx2.IsSupported && AvxVnni.IsSupported) paths.Add(Int8GemmPath.AvxVnni);
        return paths;
    }
}
