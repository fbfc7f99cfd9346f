using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using InferenceServer.Quant.Formats;

namespace InferenceServer.Quant.Kernels;

/// <summary>How the CPU LUT-GEMM walks the activation rows.</summary>
public enum LutGemmPath
{
    /// <summary>One activation row at a time; table entries are floats (decode steps).</summary>
    Rows,
    /// <summary>
    /// Eight activation rows at a time; each table entry is a Vector256 holding the eight rows' ±sums, so one weight
    /// byte costs one vector add for all eight rows (prefill). Leftover rows (M mod 8) take the Rows path.
    /// </summary>
    Tiles,
}

/// <summary>
/// Y [M, N] = X [M, K] · Wᵀ with W in <see cref="BcqWeights"/> form, without dequantizing W: for each chunk of 8
/// activations the 256 possible ±sums are tabulated once (T[b] = Σ_t (bit t of b ? +x_t : −x_t)), and each byte of a
/// bit-plane indexes that table. Per group g and output n:
/// <c>y[n] += Σ_i α[i, g, n] · Σ_{c ∈ g} T_c[byte(i, c, n)] + offset[g, n] · Σ_{k ∈ g} x[k]</c>.
/// Exact up to float32 summation order: |error| ≤ (K + 16)·2^-24 · Σ_g (Σ_i |α| + |offset|) · Σ_{k∈g} |x_k|.
/// </summary>
/// <remarks>
/// A table entry is L[b mod 16] + H[b / 16], the ±sums of the chunk's low and high four activations (48 + 256 adds per
/// chunk instead of 8·256). Work is split over (row or tile, range of outputs); the tables of one group are built
/// inside each work item, so at most g/8 tables (16 KB floats, or 128 KB vectors, at g = 128) are live per thread.
/// </remarks>
public static unsafe partial class LutGemm
{
    public const int TileRows = 8;
    private const int TableSize = 256;
    // Below this many table lookups a thread hand-off costs more than it saves.
    private const long ParallelThreshold = 1L << 18;

    /// <param name="x">[M, K] row-major float32.</param>
    /// <param name="y">[M, N] row-major float32, overwritten.</param>
    /// <param name="path">Rows forces the one-row path for every row (tests compare the two); null or Tiles uses tiles where it can.</param>
    public static void Multiply(float[] x, BcqWeights w, float[] y, int m, LutGemmPath? path = null)
    {
        int k = w.InFeatures, n = w.OutFeatures;
        if (m < 0 || x.LongLength < (long)m * k || y.LongLength < (long)m * n)
            throw new ArgumentException($"buffers too small for [{m}, {k}] × [{n}, {k}]ᵀ");
        var p = path ?? LutGemmPath.Tiles;   // Tiles for every full tile of 8 rows, Rows for the rest
        int tiles = p == LutGemmPath.Tiles ? m / TileRows : 0;
        int rows = m - tiles * TileRows;                  // handled one by one, after the tiles
        int units = tiles + rows;
        if (units == 0) return;
        long lookups = (long)m * n * w.Chunks * w.Bits;
        int threads = Environment.ProcessorCount;
        // Split the outputs too when there are fewer rows/tiles than threads (decode): ranges of at least 64 outputs.
        int splits = lookups < ParallelThreshold || units >= 2 * threads ? 1 : Math.Max(1, Math.Min((2 * threads + units - 1) / units, n / 64));
        int span = (n + splits - 1) / splits;
        void Item(int item)
        {
            int unit = item / splits, n0 = item % splits * span, n1 = Math.Min(n, n0 + span);
            if (n0 >= n1) return;
            bool words = w.GroupSize % BcqWeights.WordBits == 0;
            if (unit < tiles)
            {
                if (words) TileWords(x, w, y, unit * TileRows, n0, n1);
                else Tile(x, w, y, unit * TileRows, n0, n1);
            }
            else if (words) RowWords(x, w, y, tiles * TileRows + unit - tiles, n0, n1);
            else Row(x, w, y, tiles * TileRows + unit - tiles, n0, n1);
        }
        if (lookups < ParallelThreshold)
            for (int i = 0; i < units * splits; i++) Item(i);
        else
            Parallel.For(0, units * splits, Item);
    }

    /// <summary>y[row, n0..n1) from one activation row, reading the signs byte by byte (groups that start mid-word).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: tier-0 intrinsics code is ~10× slower
    private static void Row(float[] xs, BcqWeights w, float[] ys, int row, int n0, int n1)
    {
        int k = w.InFeatures, n = w.OutFeatures, q = w.Bits, groups = w.Groups, gs = w.GroupSize, words = w.Words;
        int chunksPerGroup = gs / BcqWeights.ChunkSize;
        var table = ArrayPool<float>.Shared.Rent(chunksPerGroup * TableSize);
        byte** planes = stackalloc byte*[q * chunksPerGroup];
        fixed (float* x0 = xs, y0 = ys, t = table, alpha = w.Alpha, offset = w.Offset)
        fixed (uint* signs = w.Signs)
        {
            float* x = x0 + (long)row * k, y = y0 + (long)row * n;
            for (int j = n0; j < n1; j++) y[j] = 0;
            for (int g = 0; g < groups; g++)
            {
                int c0 = g * chunksPerGroup, chunks = Math.Min(chunksPerGroup, w.Chunks - c0);
                float xsum = 0;
                for (int c = 0; c < chunks; c++) xsum += BuildTable(x, k, c0 + c, t + c * TableSize);
                PlanePointers(signs, q, words, n, c0, chunks, chunksPerGroup, planes);
                float* a = alpha + (long)g * n, o = offset + (long)g * n;
                long planeStride = (long)groups * n;
                for (int j = n0; j < n1; j++)
                {
                    float acc = y[j];
                    for (int i = 0; i < q; i++)
                    {
                        byte** bp = planes + i * chunksPerGroup;
                        float p0 = 0, p1 = 0, p2 = 0, p3 = 0;
                        int c = 0;
                        for (; c + 4 <= chunks; c += 4)
                        {
                            p0 += t[c * TableSize + bp[c][4L * j]];
                            p1 += t[(c + 1) * TableSize + bp[c + 1][4L * j]];
                            p2 += t[(c + 2) * TableSize + bp[c + 2][4L * j]];
                            p3 += t[(c + 3) * TableSize + bp[c + 3][4L * j]];
                        }
                        for (; c < chunks; c++) p0 += t[c * TableSize + bp[c][4L * j]];
                        acc += a[i * planeStride + j] * ((p0 + p1) + (p2 + p3));
                    }
                    y[j] = acc + o[j] * xsum;
                }
            }
        }
        ArrayPool<float>.Shared.Return(table);
    }

    /// <summary>y[m0..m0+8, n0..n1) from eight activation rows at once, reading the signs byte by byte.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: tier-0 intrinsics code is ~10× slower
    private static void Tile(float[] xs, BcqWeights w, float[] ys, int m0, int n0, int n1)
    {
        int k = w.InFeatures, n = w.OutFeatures, q = w.Bits, groups = w.Groups, gs = w.GroupSize, words = w.Words;
        int chunksPerGroup = gs / BcqWeights.ChunkSize;
        var table = ArrayPool<float>.Shared.Rent(chunksPerGroup * TableSize * TileRows);
        var acc = ArrayPool<float>.Shared.Rent((n1 - n0) * TileRows);
        byte** planes = stackalloc byte*[q * chunksPerGroup];
        fixed (float* x = xs, y = ys, t0 = table, acc0 = acc, alpha = w.Alpha, offset = w.Offset)
        fixed (uint* signs = w.Signs)
        {
            var t = (Vector256<float>*)t0;
            var yAcc = (Vector256<float>*)acc0;                       // [n1 − n0] accumulators of the 8 rows
            for (int j = 0; j < n1 - n0; j++) yAcc[j] = Vector256<float>.Zero;
            for (int g = 0; g < groups; g++)
            {
                int c0 = g * chunksPerGroup, chunks = Math.Min(chunksPerGroup, w.Chunks - c0);
                var xsum = Vector256<float>.Zero;
                for (int c = 0; c < chunks; c++) xsum += BuildTileTable(x, k, m0, c0 + c, t + c * TableSize);
                PlanePointers(signs, q, words, n, c0, chunks, chunksPerGroup, planes);
                float* a = alpha + (long)g * n, o = offset + (long)g * n;
                long planeStride = (long)groups * n;
                for (int j = n0; j < n1; j++)
                {
                    var sum = yAcc[j - n0];
                    for (int i = 0; i < q; i++)
                    {
                        byte** bp = planes + i * chunksPerGroup;
                        Vector256<float> p0 = default, p1 = default, p2 = default, p3 = default;
                        int c = 0;
                        for (; c + 4 <= chunks; c += 4)
                        {
                            p0 += t[c * TableSize + bp[c][4L * j]];
                            p1 += t[(c + 1) * TableSize + bp[c + 1][4L * j]];
                            p2 += t[(c + 2) * TableSize + bp[c + 2][4L * j]];
                            p3 += t[(c + 3) * TableSize + bp[c + 3][4L * j]];
                        }
                        for (; c < chunks; c++) p0 += t[c * TableSize + bp[c][4L * j]];
                        sum += Vector256.Create(a[i * planeStride + j]) * ((p0 + p1) + (p2 + p3));
                    }
                    yAcc[j - n0] = sum + Vector256.Create(o[j]) * xsum;
                }
            }
            for (int j = n0; j < n1; j++)
                for (int r = 0; r < TileRows; r++) y[(long)(m0 + r) * n + j] = acc0[(j - n0) * TileRows + r];
        }
        ArrayPool<float>.Shared.Return(acc);
        ArrayPool<float>.Shared.Return(table);
    }

    /// <summary>
    /// planes[i·chunksPerGroup + c] → byte (c0 + c) mod 4 of word [i, (c0 + c) / 4, 0]; output j's byte is 4·j further.
    /// </summary>
    private static void PlanePointers(uint* signs, int q, int words, int n, int c0, int chunks, int chunksPerGroup, byte** planes)
    {
        for (int i = 0; i < q; i++)
            for (int c = 0; c < chunks; c++)
            {
                int chunk = c0 + c;
                planes[i * chunksPerGroup + c] = (byte*)(signs + ((long)i * words + chunk / 4) * n) + (chunk & 3);
            }
    }

    /// <summary>T[b] = Σ_t (bit t of b ? +x_t : −x_t) for chunk c of one row (x past K reads as 0); returns the chunk's Σ x.</summary>
    internal static float BuildTable(float* x, int k, int chunk, float* table)
    {
        float* v = stackalloc float[8];
        for (int i = 0; i < 8; i++) v[i] = 8 * chunk + i < k ? x[8 * chunk + i] : 0f;
        float* lo = stackalloc float[16];
        float* hi = stackalloc float[16];
        Nibbles(v, lo);
        Nibbles(v + 4, hi);
        var l0 = Vector256.Load(lo);
        var l1 = Vector256.Load(lo + 8);
        for (int h = 0; h < 16; h++)
        {
            var hv = Vector256.Create(hi[h]);
            (l0 + hv).Store(table + 16 * h);
            (l1 + hv).Store(table + 16 * h + 8);
        }
        return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
    }

    /// <summary><see cref="BuildTable"/> for rows m0..m0+8 at once: entry b holds the eight rows' ±sums; returns their Σ x.</summary>
    internal static Vector256<float> BuildTileTable(float* x, int k, int m0, int chunk, Vector256<float>* table)
    {
        var v = stackalloc Vector256<float>[8];
        float* lane = stackalloc float[TileRows];
        for (int i = 0; i < 8; i++)
        {
            int col = 8 * chunk + i;
            for (int r = 0; r < TileRows; r++) lane[r] = col < k ? x[(long)(m0 + r) * k + col] : 0f;
            v[i] = Vector256.Load(lane);
        }
        var lo = stackalloc Vector256<float>[16];
        var hi = stackalloc Vector256<float>[16];
        Nibbles(v, lo);
        Nibbles(v + 4, hi);
        for (int h = 0; h < 16; h++)
        {
            var hv = hi[h];
            for (int l = 0; l < 16; l++) table[16 * h + l] = lo[l] + hv;
        }
        return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
    }

    /// <summary>
    /// n[b] = (±v0 ± v1) + (±v2 ± v3) for the 16 sign patterns b (bit t of b set → +v_t): two 4-entry pair tables,
    /// then 16 adds, without branches.
    /// </summary>
    private static void Nibbles(float* v, float* n)
    {
        float* a = stackalloc float[4];
        float* b = stackalloc float[4];
        a[0] = -v[0] + -v[1]; a[1] = v[0] + -v[1]; a[2] = -v[0] + v[1]; a[3] = v[0] + v[1];
        b[0] = -v[2] + -v[3]; b[1] = v[2] + -v[3]; b[2] = -v[2] + v[3]; b[3] = v[2] + v[3];
        for (int i = 0; i < 16; i++) n[i] = a[i & 3] + b[i >> 2];
    }

    /// <summary><see cref="Nibbles(float*, float*)"/> for eight rows at once.</summary>
    private static void Nibbles(Vector256<float>* v, Vector256<float>* n)
    {
        var a = stackalloc Vector256<float>[4];
        var b = stackalloc Vector256<float>[4];
        a[0] = -v[0] + -v[1]; a[1] = v[0] + -v[1]; a[2] = -v[0] + v[1]; a[3] = v[0] + v[1];
        b[0] = -v[2] + -v[3]; b[1] = v[2] + -v[3]; b[2] = -v[2] + v[3]; b[3] = v[2] + v[3];
        for (int i = 0; i < 16; i++) n[i] = a[i & 3] + b[i >> 2];
    }
}
