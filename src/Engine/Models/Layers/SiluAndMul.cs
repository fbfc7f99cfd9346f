using InferenceServer.Engine.Models.Quantization;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Models.Layers;

/// <summary>The gated MLP's activation, silu(gate)·up, feeding the down projection.</summary>
public static class SiluAndMul
{
    /// <summary>
    /// down(silu(gate_up[:, :I])·gate_up[:, I:]) for gate_up [T, 2I]; on CUDA a W8A8 down projection gets INT8 from the
    /// same pass.
    /// </summary>
    public static Tensor ForwardInto(ILinearKernel down, Tensor gateUp, Kernels.NativeKernels? kernels)
    {
        if (kernels is null) return down.Forward(Portable(gateUp));
        return down is IQuantizedInputLinear { AcceptsQuantizedInput: true } q
            ? q.ForwardQuantized(kernels.SiluMulQuant(gateUp, q.StaticActScale), gateUp.dtype)
            : down.Forward(kernels.SiluMul(gateUp));
    }

    private static Tensor Portable(Tensor gateUp)
    {
        using var scope = NewDisposeScope();
        long i = gateUp.shape[1] / 2;
        return (nn.functional.silu(gateUp.narrow(1, 0, i)) * gateUp.narrow(1, i, i)).MoveToOuterDisposeScope();
    }
}
