using static TorchSharp.torch;

namespace InferenceServer.Engine.Kernels;

/// <summary>Greedy sampling's reduction (argmax.cu).</summary>
public sealed unsafe partial class NativeKernels
{
    private IntPtr _argmaxRows;

    /// <summary>
    /// The index of each row's largest logit, [B] int64, for logits [B, V] (float32/float16/bfloat16, contiguous rows):
    /// torch.argmax's pick (NaN first, then the larger value, the lower index of equals), with each row split over
    /// several blocks instead of one.
    /// </summary>
    public Tensor ArgmaxRows(Tensor logits)
    {
        var output = empty([logits.shape[0]], ScalarType.Int64, logits.device);
        var f = (delegate* unmanaged<IntPtr, IntPtr, int>)Export(ref _argmaxRows, "ik_argmax_rows");
        Check(f(output.Handle, logits.Handle), "argmax_rows");
        return output;
    }
}
