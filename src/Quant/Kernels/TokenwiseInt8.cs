using InferenceServer.Engine.Parallel;
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
        var scale = Scale(x, staticScale);
        return (Apply(x, scale), scale);
    }

    /// <summary>
    /// The scales alone: the calibrated one [1, 1], or each token's abs-max / 127 [T, 1]. With <paramref name="comm"/>
    /// (a row-parallel share holding some of K's columns) the abs-max is taken over every rank's columns, so it is the
    /// whole row's, exactly as on one device.
    /// </summary>
    public static Tensor Scale(Tensor x, float? staticScale, ICommunicator? comm = null)
    {
        if (staticScale is float s) return tensor(new[] { s }, [1, 1], device: x.device);   // [1, 1]
        var absMax = x.abs().amax([1L], keepdim: true);                                        // [T, 1]
        comm?.AllReduce(absMax, ReduceOp.Max);
        return absMax.clamp_min(MinAbsMax).div(Levels);
    }

    /// <returns>round(x / scale) clamped to ±127, as float32 integers [T, K].</returns>
    public static Tensor Apply(Tensor x, Tensor scale) => (x / scale).round_().clamp_(MinLevel, Levels);
}
