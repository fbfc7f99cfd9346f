using InferenceServer.Engine.Models.Quantization;
using InferenceServer.Quant.CompressedTensors;
using InferenceServer.Quant.SmoothQuant;

namespace InferenceServer.Quant;

/// <summary>Registers this assembly's <c>--quantization</c> methods with the engine's registry.</summary>
public static class QuantMethods
{
    public static void RegisterAll()
    {
        QuantMethodRegistry.Register("smoothquant", o => new W8A8Method(true, W8A8Options.Parse(o)));
        QuantMethodRegistry.Register("w8a8", o => new W8A8Method(false, W8A8Options.Parse(o)));
        QuantMethodRegistry.RegisterCheckpointFormat(CompressedTensorsScheme.QuantMethod, qc => new CompressedTensorsW8A8Method(CompressedTensorsScheme.Parse(qc)));
    }
}
