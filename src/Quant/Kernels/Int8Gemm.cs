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
    /// <summary>
    /// vpdpbusd (AVX-VNNI, 256-bit) on activations offset to unsigned (a + 128), corrected by 128·Σb per weight row:
    /// one instruction per 32 products and no sign fix-up, 2 activation rows × 4 weight rows per step.
    /// </summary>
    AvxVnni,
}

/// <summary>
/// C[m, n] = Σ_k A[m, k] · B[n, k] with int8 inputs and exact int32 results. A [M, K] is activations (any int8),
/// B [N, K] is weights, row per output channel, in [-127, 127] (symmetric quantization never makes -128).
/// </summary>
/// <remarks>
/// x86 has no signed×signed byte multiply, only unsigned×signed (vpmaddubsw, vpdpbusd). The AVX2 path uses the sign
/// trick: a·b = |a| · (sign(a)·b). |a| ≤ 128 and |sign(a)·b| ≤ 127, so a pair sum is at most 2·128·127 = 32512 and
/// vpmaddubsw's int16 saturation never triggers; that is why B must avoid -128. vpdpbusd sums into int32 without
/// saturating, so the VNNI path instead offsets the activations: Σ a·b = Σ (a + 128)·b − 128·Σ b, with Σ b per
/// weight row computed once (<see cref="RowSums"/>).
/// .NET 10 exposes no AVX-512 VNNI class (only AvxVnniInt8.V512, which needs AVX10.2), so the widest VNNI path is
/// the 256-bit AVX-VNNI one.
/// </remarks>
public static unsafe class Int8Gemm
{
    /// <summary>
    /// Tests force a path to check each against the scalar reference; null picks the best available. Per thread (read
    /// by the calling thread), so a test forcing it leaves tests running beside it alone.
    /// </summary>
    internal static Int8GemmPath? ForcedPath { get => _forcedPath; set => _forcedPath = value; }
    [ThreadStatic] private static Int8GemmPath? _forcedPath;

    public static IReadOnlyList<Int8GemmPath> AvailablePaths { get; } = FindPaths();

    public static Int8GemmPath BestPath => AvailablePaths[^1];

    // Tiles of 64 activation rows × 16 weight rows: 16·K weight bytes stay in L1/L2 while 64 rows stream past.
    private const int TileM = 64, TileN = 16;
    // Below this many multiply-adds a thread hand-off costs more than it saves.
    private const long ParallelThreshold = 1L << 20;

    /// <summary>Σ_k B[n, k] for each weight row: what the VNNI path needs, computed once per weight matrix.</summary>
    public static int[] RowSums(sbyte[] b, int n, int k)
    {
        var sums = new int[n];
        for (int j = 0; j < n; j++)
        {
            int s = 0;
            for (long q = (long)j * k; q < (long)(j + 1) * k; q++) s += b[q];
            sums[j] = s;
        }
        return sums;
    }

    /// <param name="bRowSums">Σ_k B[n, k] per weight row (<see cref="RowSums"/>); computed here when null.</param>
    public static void Multiply(sbyte[] a, sbyte[] b, int[] c, int m, int n, int k, Int8GemmPath? path = null, int[]? bRowSums = null)
    {
        if (a.Length < (long)m * k || b.Length < (long)n * k || c.Length < (long)m * n || bRowSums?.Length < n)
            throw new ArgumentException($"buffers too small for [{m}, {k}] × [{n}, {k}]ᵀ");
        var p = path ?? ForcedPath ?? BestPath;
        if (!AvailablePaths.Contains(p))
            throw new NotSupportedException($"INT8 GEMM path {p} is not supported by this CPU");
        if (p == Int8GemmPath.AvxVnni) bRowSums ??= RowSums(b, n, k);
        int tilesM = (m + TileM - 1) / TileM, tilesN = (n + TileN - 1) / TileN;
        if ((long)m * n * k < ParallelThreshold || tilesM * tilesN == 1)
        {
            for (int t = 0; t < tilesM * tilesN; t++) Tile(a, b, c, m, n, k, t / tilesN, t % tilesN, p, bRowSums);
            return;
        }
        Parallel.For(0, tilesM * tilesN, t => Tile(a, b, c, m, n, k, t / tilesN, t % tilesN, p, bRowSums));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: tier-0 intrinsics code is ~10× slower
    private static void Tile(sbyte[] a, sbyte[] b, int[] c, int m, int n, int k, int tm, int tn, Int8GemmPath p, int[]? sums)
    {
        int m0 = tm * TileM, m1 = Math.Min(m, m0 + TileM), n0 = tn * TileN, n1 = Math.Min(n, n0 + TileN);
        fixed (sbyte* pa = a, pb = b)
        fixed (int* pc = c, ps = sums)
        {
            if (p == Int8GemmPath.AvxVnni)
            {
                TileVnni(pa, pb, pc, ps, n, k, m0, m1, n0, n1);
                return;
            }
            for (int i = m0; i < m1; i++)
            {
                sbyte* row = pa + (long)i * k;
                int* outRow = pc + (long)i * n;
                int j = n0;
                for (; j + 4 <= n1; j += 4)
                {
                    sbyte* w = pb + (long)j * k;
                    if (p == Int8GemmPath.Avx2) Dot4Avx2(row, w, k, outRow + j);
                    else for (int q = 0; q < 4; q++) outRow[j + q] = DotScalar(row, w + (long)q * k, 0, k);
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

    /// <summary>Rows m0..m1 × weight rows n0..n1 on the VNNI path: blocks of 2 activation rows × 4 weight rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: tier-0 intrinsics code is ~10× slower
    private static void TileVnni(sbyte* pa, sbyte* pb, int* pc, int* sums, int n, int k, int m0, int m1, int n0, int n1)
    {
        int i = m0;
        for (; i + 2 <= m1; i += 2)
        {
            sbyte* a0 = pa + (long)i * k, a1 = a0 + k;
            int* c0 = pc + (long)i * n, c1 = c0 + n;
            int j = n0;
            for (; j + 4 <= n1; j += 4) Block2x4Vnni(a0, a1, pb + (long)j * k, k, c0 + j, c1 + j, sums + j);
            for (; j < n1; j++)
            {
                c0[j] = Dot1Avx2(a0, pb + (long)j * k, k);
                c1[j] = Dot1Avx2(a1, pb + (long)j * k, k);
            }
        }
        for (; i < m1; i++)
        {
            sbyte* a0 = pa + (long)i * k;
            int* c0 = pc + (long)i * n;
            int j = n0;
            for (; j + 4 <= n1; j += 4) Block1x4Vnni(a0, pb + (long)j * k, k, c0 + j, sums + j);
            for (; j < n1; j++) c0[j] = Dot1Avx2(a0, pb + (long)j * k, k);
        }
    }

    /// <summary>Block2x4Vnni for a lone activation row (decode steps).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: tier-0 intrinsics code is ~10× slower
    private static void Block1x4Vnni(sbyte* a0, sbyte* w, int k, int* c0, int* sums)
    {
        var flip = Vector256.Create((byte)0x80);
        Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default;
        int i = 0;
        for (; i + 32 <= k; i += 32)
        {
            var x = Avx2.Xor(Avx.LoadVector256((byte*)a0 + i), flip);
            s0 = AvxVnni.MultiplyWideningAndAdd(s0, x, Avx.LoadVector256(w + i));
            s1 = AvxVnni.MultiplyWideningAndAdd(s1, x, Avx.LoadVector256(w + k + i));
            s2 = AvxVnni.MultiplyWideningAndAdd(s2, x, Avx.LoadVector256(w + 2 * k + i));
            s3 = AvxVnni.MultiplyWideningAndAdd(s3, x, Avx.LoadVector256(w + 3 * k + i));
        }
        StoreRow(c0, s0, s1, s2, s3, a0, w, i, k, sums);
    }

    /// <summary>
    /// c0[q] = Σ a0·w_q and c1[q] = Σ a1·w_q for the four weight rows w_q = w + q·k. The activations
    /// go in as a + 128 (unsigned); 128·Σ w_q (sums[q]) comes off at the end.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: tier-0 intrinsics code is ~10× slower
    private static void Block2x4Vnni(sbyte* a0, sbyte* a1, sbyte* w, int k, int* c0, int* c1, int* sums)
    {
        var flip = Vector256.Create((byte)0x80);
        Vector256<int> s00 = default, s01 = default, s02 = default, s03 = default;
        Vector256<int> s10 = default, s11 = default, s12 = default, s13 = default;
        int i = 0;
        for (; i + 32 <= k; i += 32)
        {
            var x0 = Avx2.Xor(Avx.LoadVector256((byte*)a0 + i), flip);
            var x1 = Avx2.Xor(Avx.LoadVector256((byte*)a1 + i), flip);
            var w0 = Avx.LoadVector256(w + i);
            s00 = AvxVnni.MultiplyWideningAndAdd(s00, x0, w0);
            s10 = AvxVnni.MultiplyWideningAndAdd(s10, x1, w0);
            var w1 = Avx.LoadVector256(w + k + i);
            s01 = AvxVnni.MultiplyWideningAndAdd(s01, x0, w1);
            s11 = AvxVnni.MultiplyWideningAndAdd(s11, x1, w1);
            var w2 = Avx.LoadVector256(w + 2 * k + i);
            s02 = AvxVnni.MultiplyWideningAndAdd(s02, x0, w2);
            s12 = AvxVnni.MultiplyWideningAndAdd(s12, x1, w2);
            var w3 = Avx.LoadVector256(w + 3 * k + i);
            s03 = AvxVnni.MultiplyWideningAndAdd(s03, x0, w3);
            s13 = AvxVnni.MultiplyWideningAndAdd(s13, x1, w3);
        }
        StoreRow(c0, s00, s01, s02, s03, a0, w, i, k, sums);
        StoreRow(c1, s10, s11, s12, s13, a1, w, i, k, sums);
    }

    /// <summary>
    /// c[q] = Σ a·w_q for one activation row from its offset accumulators s_q (Σ over [0, i) of (a + 128)·w_q): the
    /// vector lanes summed, the leftover [i, k) added, 128·Σ w_q (sums[q]) taken off.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(int* c, Vector256<int> s0, Vector256<int> s1, Vector256<int> s2, Vector256<int> s3, sbyte* a, sbyte* w, int i, int k, int* sums)
    {
        c[0] = Vector256.Sum(s0) - 128 * sums[0];
        c[1] = Vector256.Sum(s1) - 128 * sums[1];
        c[2] = Vector256.Sum(s2) - 128 * sums[2];
        c[3] = Vector256.Sum(s3) - 128 * sums[3];
        if (i < k)
            for (int q = 0; q < 4; q++) c[q] += OffsetTail(a, w + q * k, i, k);
    }

    /// <summary>Σ (a + 128)·b over [from, k): the vector loop's leftover, in its offset form.</summary>
    private static int OffsetTail(sbyte* a, sbyte* b, int from, int k)
    {
        int s = 0;
        for (int i = from; i < k; i++) s += (a[i] + 128) * b[i];
        return s;
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
