using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using InferenceServer.Quant.Formats;

namespace InferenceServer.Quant.Kernels;

/// <summary>
/// The fast paths of <see cref="LutGemm"/> for group sizes that are multiples of 32: every group starts on a sign word,
/// so one 32-bit load per (plane, word, output) feeds four table lookups (its four bytes), instead of four byte loads
/// through per-chunk pointers. Tables are built for whole words; chunks past K hold zeros, so the zero bits padding the
/// last word add nothing.
/// </summary>
public static unsafe partial class LutGemm
{
    private const int WordTable = 4 * TableSize;   // the four chunk tables of one sign word

    /// <summary>y[row, n0..n1) from one activation row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: tier-0 intrinsics code is ~10× slower
    private static void RowWords(float[] xs, BcqWeights w, float[] ys, int row, int n0, int n1)
    {
        int k = w.InFeatures, n = w.OutFeatures, q = w.Bits, groups = w.Groups, words = w.Words;
        int wordsPerGroup = w.GroupSize / BcqWeights.WordBits;
        var table = ArrayPool<float>.Shared.Rent(wordsPerGroup * WordTable);
        fixed (float* x0 = xs, y0 = ys, t = table, alpha = w.Alpha, offset = w.Offset)
        fixed (uint* signs = w.Signs)
        {
            float* x = x0 + (long)row * k, y = y0 + (long)row * n;
            long planeStride = (long)groups * n;
            for (int j = n0; j < n1; j++) y[j] = 0;
            for (int g = 0; g < groups; g++)
            {
                int w0 = g * wordsPerGroup, nw = Math.Min(wordsPerGroup, words - w0);
                float xsum = 0;
                for (int c = 0; c < 4 * nw; c++) xsum += BuildTable(x, k, 4 * w0 + c, t + c * TableSize);
                float* a = alpha + (long)g * n, o = offset + (long)g * n;
                for (int j = n0; j < n1; j++)
                {
                    float acc = y[j];
                    for (int i = 0; i < q; i++)
                    {
                        uint* s = signs + ((long)i * words + w0) * n + j;     // word [i, w0, j]; the next word is n further
                        float p0 = 0, p1 = 0, p2 = 0, p3 = 0;
                        for (int ww = 0; ww < nw; ww++)
                        {
                            uint word = s[(long)ww * n];
                            float* tw = t + ww * WordTable;
                            p0 += tw[word & 0xFF];
                            p1 += tw[TableSize + (word >> 8 & 0xFF)];
                            p2 += tw[2 * TableSize + (word >> 16 & 0xFF)];
                            p3 += tw[3 * TableSize + (word >> 24)];
                        }
                        acc += a[i * planeStride + j] * ((p0 + p1) + (p2 + p3));
                    }
                    y[j] = acc + o[j] * xsum;
                }
            }
        }
        ArrayPool<float>.Shared.Return(table);
    }

    /// <summary>y[m0..m0+8, n0..n1) from eight activation rows at once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: tier-0 intrinsics code is ~10× slower
    private static void TileWords(float[] xs, BcqWeights w, float[] ys, int m0, int n0, int n1)
    {
        int k = w.InFeatures, n = w.OutFeatures, q = w.Bits, groups = w.Groups, words = w.Words;
        int wordsPerGroup = w.GroupSize / BcqWeights.WordBits;
        var table = ArrayPool<float>.Shared.Rent(wordsPerGroup * WordTable * TileRows);
        var acc = ArrayPool<float>.Shared.Rent((n1 - n0) * TileRows);
        fixed (float* x = xs, y = ys, t0 = table, acc0 = acc, alpha = w.Alpha, offset = w.Offset)
        fixed (uint* signs = w.Signs)
        {
            var t = (Vector256<float>*)t0;
            var yAcc = (Vector256<float>*)acc0;                       // [n1 − n0] accumulators of the 8 rows
            long planeStride = (long)groups * n;
            for (int j = 0; j < n1 - n0; j++) yAcc[j] = Vector256<float>.Zero;
            for (int g = 0; g < groups; g++)
            {
                int w0 = g * wordsPerGroup, nw = Math.Min(wordsPerGroup, words - w0);
                var xsum = Vector256<float>.Zero;
                for (int c = 0; c < 4 * nw; c++) xsum += BuildTileTable(x, k, m0, 4 * w0 + c, t + c * TableSize);
                float* a = alpha + (long)g * n, o = offset + (long)g * n;
                for (int j = n0; j < n1; j++)
                {
                    var sum = yAcc[j - n0];
                    for (int i = 0; i < q; i++)
                    {
                        uint* s = signs + ((long)i * words + w0) * n + j;
                        Vector256<float> p0 = default, p1 = default, p2 = default, p3 = default;
                        for (int ww = 0; ww < nw; ww++)
                        {
                            uint word = s[(long)ww * n];
                            var tw = t + ww * WordTable;
                            p0 += tw[word & 0xFF];
                            p1 += tw[TableSize + (word >> 8 & 0xFF)];
                            p2 += tw[2 * TableSize + (word >> 16 & 0xFF)];
                            p3 += tw[3 * TableSize + (word >> 24)];
                        }
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
}
