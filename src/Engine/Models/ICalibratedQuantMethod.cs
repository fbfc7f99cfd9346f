using InferenceServer.Engine.Models.Quantization;
using InferenceServer.Engine.Loading;

namespace InferenceServer.Engine.Models;

/// <summary>
/// A quant method that must watch the full-precision model run over calibration text before it can build its
/// kernels (SmoothQuant's activation maxima, static activation scales). Callers (the CLI, tests) run
/// <see cref="Calibrate"/> first and load the model with the options it returns.
/// </summary>
public interface ICalibratedQuantMethod : IQuantMethod
{
    /// <summary>False when this configuration needs no calibration (e.g. w8a8 with dynamic activation scales).</summary>
    bool NeedsCalibration { get; }

    /// <summary>Calibration windows and their length in tokens, from the method's options.</summary>
    (int Samples, int SequenceLength) CalibrationShape { get; }

    /// <summary>
    /// Loads the model in full precision with <paramref name="options"/>, runs it over <paramref name="calibrationStream"/>
    /// (one token stream, cut into windows of <see cref="CalibrationShape"/>), and returns the options to load the
    /// quantized model with: a calibrated quant method and, where the method rewrites weights, a weight transform.
    /// </summary>
    /// <param name="progress">(windows done, windows total).</param>
    ModelOptions Calibrate(ModelConfig config, ModelOptions options, IReadOnlyList<int> calibrationStream, Action<int, int>? progress = null);
}
