using InferenceServer.Engine.Models.Quantization;
using InferenceServer.Quant.CompressedTensors;
using InferenceServer.Quant.LutGemm;
using InferenceServer.Quant.SmoothQuant;
using InferenceServer.Quant.ZeroQuant;

namespace InferenceServer.Quant;

/// <summary>This assembly's quantization methods, as additions to a <see cref="QuantizationRegistryBuilder"/>.</summary>
public static class QuantMethods
{
    /// <summary>The complete registry the server uses: "none" and every method below.</summary>
    public static QuantizationRegistry CreateRegistry() => new QuantizationRegistryBuilder().AddQuantMethods().Build();

    /// <summary>Every method of this assembly; a new one (ZeroQuant, LUT-GEMM) is one more line here.</summary>
    public static QuantizationRegistryBuilder AddQuantMethods(this QuantizationRegistryBuilder builder) => builder
        .AddSmoothQuant()
        .AddW8A8()
        .AddMethod(ZeroQuantMethod.MethodName, o => new ZeroQuantMethod(ZeroQuantOptions.Parse(o)))
        .AddCompressedTensors()
        .AddLutGemm();

    /// <summary><c>--quantization smoothquant</c>: SmoothQuant smoothing, then W8A8.</summary>
    public static QuantizationRegistryBuilder AddSmoothQuant(this QuantizationRegistryBuilder builder) =>
        builder.AddMethod("smoothquant", o => new W8A8Method(true, W8A8Options.Parse(o)));

    /// <summary><c>--quantization w8a8</c>: INT8 weights and activations without smoothing.</summary>
    public static QuantizationRegistryBuilder AddW8A8(this QuantizationRegistryBuilder builder) =>
        builder.AddMethod("w8a8", o => new W8A8Method(false, W8A8Options.Parse(o)));

    /// <summary>Checkpoints with quant_method "compressed-tensors" (what <c>quantize</c> writes): int-quantized (W8A8) or pack-quantized (group-wise).</summary>
    public static QuantizationRegistryBuilder AddCompressedTensors(this QuantizationRegistryBuilder builder) =>
        builder.AddCheckpointFormat(CompressedTensorsScheme.QuantMethod, qc => qc["format"]?.GetValue<string>() == PackQuantizedScheme.Format
            ? new CompressedTensorsGroupwiseMethod(PackQuantizedScheme.Parse(qc))
            : new CompressedTensorsW8A8Method(CompressedTensorsScheme.Parse(qc)));

    /// <summary><c>--quantization lutgemm</c> (weight-only BCQ served by LUT-GEMM) and the checkpoints <c>quantize</c> writes for it.</summary>
    public static QuantizationRegistryBuilder AddLutGemm(this QuantizationRegistryBuilder builder) => builder
        .AddMethod(LutGemmMethod.MethodName, o => new LutGemmMethod(LutGemmOptions.Parse(o)))
        .AddCheckpointFormat(LutGemmMethod.MethodName, LutGemmCheckpoint.Parse);
}
