using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace InferenceServer.Quant.Kernels;

/// <summary>
/// y[m, n] = Σ_g s[n, g] · Σ_{k ∈ g} x[m, k] · (u[n, k] − z[n, g]) over a <see cref="GroupwiseWeight"/>, in float32
/// on the CPU, reading the packed codes directly (no dequantized copy of W is kept).
/// </summary>
/// <remarks>
/// For each output row n and group g the kernel unpacks the group's G codes once into a G-float buffer on the stack
/// (u − z, exact small integers), then takes its dot product with every activation row, so the unpacking is paid
/// once per M rows. With 4 bits one int32 word is 8 codes: broadcast, vpsrlvd by (0, 4, …, 28), mask, convert — one
/// Vector256 of floats per word. With 8 bits the word bytes are the codes in order, read with vpmovzxbd.
/// Activations that are INT8 values (the A8 path) give exact per-group integer sums: |Σ| ≤ 127 · 255 · 256 &lt; 2^24.
/// </remarks>
public static unsafe class GroupwiseGemm
{
    /// <summary>
    /// Tests force the scalar loop to check the SIMD one against it; null picks AVX2 when present. Per thread (read by
    /// the calling thread before any work is handed out), so a test forcing it leaves tests running beside it alone.
    /// </summary>
    internal static bool? ForceScalar { get => _forceScalar; set => _forceScalar = value; }
    [ThreadStatic] private static bool? _forceScalar;

    public static bool UsesAvx2 => ForceScalar != true && Avx2.IsSupported && Fma.IsSupported;

    // Below this many multiply-adds a thread hand-off costs more than it saves.
    private const long ParallelThreshold = 1L << 18;
    private const int RowsPerTask = 16;

    /// <param name="x">[M, K] row-major float32.</param>
    /// <param name="y">[M, N] row-major float32, overwritten.</param>
    public static void Multiply(float[] x, int m, GroupwiseWeight w, float[] y)
    {
        if (x.Length < (long)m * w.InFeatures || y.Length < (long)m * w.OutFeatures)
            throw new ArgumentException($"buffers too small for [{m}, {w.InFeatures}] × [{w.OutFeatures}, {w.InFeatures}]ᵀ");
        int tasks = (w.OutFeatures + RowsPerTask - 1) / RowsPerTask;
        bool simd = UsesAvx2;
        if ((long)m * w.OutFeatures * w.InFeatures < ParallelThreshold)
            for (int t = 0; t < tasks; t++) Rows(x, m, w, y, t * RowsPerTask, simd);
        else
            Parallel.For(0, tasks, t => Rows(x, m, w, y, t * RowsPerTask, simd));
    }

    /// <summary>W [N, K] dequantized into <paramref name="dst"/> (row-major float32), with the kernel's own unpacking.</summary>
    public static void Dequantize(GroupwiseWeight w, float[] dst)
    {
        if (dst.Length < (long)w.OutFeatures * w.InFeatures) throw new ArgumentException("destination too small");
        bool simd = UsesAvx2;
        Parallel.For(0, (w.OutFeatures + RowsPerTask - 1) / RowsPerTask, t => DequantizeRows(w, dst, t * RowsPerTask, simd));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DequantizeRows(GroupwiseWeight w, float[] dst, int n0, bool simd)
    {
        int n1 = Math.Min(w.OutFeatures, n0 + RowsPerTask), gs = w.GroupSize, groups = w.Groups;
        fixed (float* pd = dst)
        fixed (int* pw = w.Packed)
        {
            for (int n = n0; n < n1; n++)
            for (int g = 0; g < groups; g++)
            {
                float* buf = pd + (long)n * w.InFeatures + g * gs;
                int* words = pw + (long)n * w.WordsPerRow + g * gs / w.CodesPerWord;
                int z = w.Zeros[n * groups + g];
                if (simd) UnpackAvx2(words, w.Bits, gs, z, buf);
                else UnpackScalar(words, w.Bits, gs, z, buf);
                float s = w.Scales[n * groups + g];
                for (int i = 0; i < gs; i++) buf[i] *= s;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: tier-0 intrinsics code is ~10× slower
    private static void Rows(float[] x, int m, GroupwiseWeight w, float[] y, int n0, bool simd)
    {
        int n1 = Math.Min(w.OutFeatures, n0 + RowsPerTask), k = w.InFeatures, gs = w.GroupSize, groups = w.Groups, nOut = w.OutFeatures;
        float* buf = stackalloc float[gs];
        fixed (float* px = x, py = y, ps = w.Scales)
        fixed (int* pw = w.Packed)
        fixed (byte* pz = w.Zeros)
        {
            for (int n = n0; n < n1; n++)
            {
                for (int t = 0; t < m; t++) py[(long)t * nOut + n] = 0;
                int* row = pw + (long)n * w.WordsPerRow;
                for (int g = 0; g < groups; g++)
                {
                    int z = pz[n * groups + g];
                    int* words = row + g * gs / w.CodesPerWord;
                    if (simd) UnpackAvx2(words, w.Bits, gs, z, buf);
                    else UnpackScalar(words, w.Bits, gs, z, buf);
                    float s = ps[n * groups + g];
                    for (int t = 0; t < m; t++)
                    {
                        float* xg = px + (long)t * k + g * gs;
                        py[(long)t * nOut + n] += s * (simd ? DotAvx2(xg, buf, gs) : DotScalar(xg, buf, gs));
                    }
                }
            }
        }
    }

    /// <summary>buf[i] = u_i − z for one group's codes.</summary>
    private static void UnpackScalar(int* words, int bits, int gs, int z, float* buf)
    {
        int perWord = 32 / bits, mask = (1 << bits) - 1;
        for (int i = 0; i < gs; i++) buf[i] = ((words[i / perWord] >>> (bits * (i % perWord))) & mask) - z;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void UnpackAvx2(int* words, int bits, int gs, int z, float* buf)
    {
        var zero = Vector256.Create(z);
        if (bits == 4)
        {
            var shifts = Vector256.Create(0u, 4, 8, 12, 16, 20, 24, 28);
            var mask = Vector256.Create(0xF);
            for (int i = 0; i < gs / 8; i++)
            {
                var codes = Avx2.ShiftRightLogicalVariable(Vector256.Create(words[i]).AsUInt32(), shifts).AsInt32() & mask;
                Avx.Store(buf + 8 * i, Avx.ConvertToVector256Single(codes - zero));
            }
        }
        else
        {
            byte* bytes = (byte*)words;
            for (int i = 0; i < gs; i += 8)
                Avx.Store(buf + i, Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(bytes + i) - zero));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float DotAvx2(float* a, float* b, int n)
    {
        Vector256<float> c0 = default, c1 = default;
        int i = 0;
        for (; i + 16 <= n; i += 16)
        {
            c0 = Fma.MultiplyAdd(Avx.LoadVector256(a + i), Avx.LoadVector256(b + i), c0);
            c1 = Fma.MultiplyAdd(Avx.LoadVector256(a + i + 8), Avx.LoadVector256(b + i + 8), c1);
        }
        for (; i + 8 <= n; i += 8) c0 = Fma.MultiplyAdd(Avx.LoadVector256(a + i), Avx.LoadVector256(b + i), c0);
        return Vector256.Sum(c0 + c1);
    }

    private static float DotScalar(float* a, float* b, int n)
    {
        float s = 0;
        for (int i = 0; i < n; i++) s += a[i] * b[i];
        return s;
    }
}
