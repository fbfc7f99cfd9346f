using InferenceServer.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Sampling;

/// <summary>
/// Applies the step's constraint bitmask [B, W] (W = ⌈V/32⌉ words, bit v of row b = token v allowed) to the logits:
/// disallowed tokens become −inf. On CPU a loop over the host bits writes −inf straight into a float32 copy; on other
/// devices the bits go up packed (B·W·4 bytes) and are unpacked with tensor ops (a fused CUDA kernel can replace them
/// behind <see cref="Apply"/>).
/// </summary>
internal static class ConstraintMask
{
    /// <summary>Returns new logits [B, V] with disallowed tokens at −inf; <paramref name="logits"/> is untouched.</summary>
    public static Tensor Apply(Tensor logits, uint[] bits, int words)
    {
        int batch = (int)logits.shape[0], vocab = (int)logits.shape[1];
        if (logits.device.type == DeviceType.CPU)
        {
            var copy = logits.to_type(ScalarType.Float32, copy: true).contiguous();   // [B, V]
            FillHost(copy, bits, words, batch, vocab);
            return copy;
        }
        return ApplyWithTensorOps(logits, bits, words);
    }

    /// <summary>The device path: packed bits up in one copy, unpacked by tensor ops. Internal so CPU tests can check it.</summary>
    internal static Tensor ApplyWithTensorOps(Tensor logits, uint[] bits, int words)
    {
        int batch = (int)logits.shape[0], vocab = (int)logits.shape[1];
        var packed = HostToDevice.Copy((int[])(object)bits, logits.device).view(batch, words, 1);          // [B, W, 1] int32
        var shifts = Scalars.Arange(32, ScalarType.Int32, logits.device);                                     // [32]
        var one = ones(1, ScalarType.Int32, logits.device);                                                 // bitwise_and takes a tensor
        var allowed = packed.bitwise_right_shift(shifts).bitwise_and(one).view(batch, words * 32)           // [B, W·32]
            .narrow(1, 0, vocab).to_type(ScalarType.Bool);                                                   // [B, V]
        return logits.masked_fill(allowed.logical_not(), Scalars.NegInfF);
    }

    private static void FillHost(Tensor logits, uint[] bits, int words, int batch, int vocab)
    {
        var data = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(logits.bytes);   // the CPU storage, [B·V]
        for (int b = 0; b < batch; b++)
        {
            var row = data.Slice(b * vocab, vocab);
            for (int w = 0; w < words; w++)
            {
                uint allowed = bits[b * words + w];
                if (allowed == uint.MaxValue) continue;
                int baseId = w * 32, end = Math.Min(32, vocab - baseId);
                for (int i = 0; i < end; i++)
                    if ((allowed & (1u << i)) == 0) row[baseId + i] = float.NegativeInfinity;
            }
        }
    }
}
