using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Quant.Kernels;

/// <summary>
/// Token-wise INT8 activation quantization, shared by every A8 kernel (W8A8, ZeroQuant's W4/W8-A8): each row of x
/// gets its own symmetric scale max|x_t| / 127 (dynamic), or one calibrated per-tensor scale (static).
/// </summary>
public static class TokenwiseInt8
{
    // Static, so no temporary Scalar can be finalized while an op reads it (see Engine.Runtime.Scalars).
    private static readonly Scalar Levels = 127.0.ToScalar(), MinLevel = (-127.0).ToScalar(), MinAbsMax = 1e-8.ToScalar();

    /// <param name="x">[T, K] float32.</param>
    /// <param name="staticScale">A calibrated per-tensor scale, or null for per-token scales.</param>
    /// <returns>The INT8 values as float32 integers in [−127, 127] [T, K], and the scales [T, 1] (or [1, 1]): x ≈ q · scale.</returns>
    public static (Tensor Q, Tensor Scale) Quantize(Tensor x, float? staticScale = null)
    {
        var scale = staticScale is float s
            ? tensor(new[] { s }, [1, 1], device: x.device)                                       // [1, 1]
            : x.abs().amax([1L], keepdim: true).clamp_min(MinAbsMax).div(Levels);                  // [T, 1]
        var q = (x / scale).round_().clamp_(MinLevel, Levels);                                     // [T, K]
        return (q, scale);
    }
}
