using InferenceServer.Engine.Sampling;
using TorchSharp;
using static InferenceServer.Engine.Tests.Sampling.SamplingTestData;

namespace InferenceServer.Engine.Tests.Sampling;

/// <summary>Both ways of applying the constraint bitmask (host loop for CPU, tensor ops for other devices) agree.</summary>
public class ConstraintMaskTests
{
    [Theory]
    [InlineData(3, 64)]
    [InlineData(5, 100)]     // V not a multiple of 32: the last word is partial
    public void HostLoopAndTensorOpsMaskTheSameTokens(int batch, int vocab)
    {
        var random = new Random(vocab);
        int words = (vocab + 31) / 32;
        var bits = new uint[batch * words];
        for (int i = 0; i < bits.Length; i++) bits[i] = (uint)random.NextInt64(0, 1L << 32);
        bits[0] = uint.MaxValue;                       // a word with every token allowed
        bits[words] = 0x80000000;                      // only the top bit: the sign bit of an int32 word
        using var logits = RandomLogits(batch, vocab, seed: 1);
        using var host = ConstraintMask.Apply(logits, bits, words);
        using var ops = ConstraintMask.ApplyWithTensorOps(logits, bits, words);
        var expected = logits.data<float>().ToArray();
        for (int b = 0; b < batch; b++)
            for (int v = 0; v < vocab; v++)
                if ((bits[b * words + (v >> 5)] & (1u << (v & 31))) == 0) expected[b * vocab + v] = float.NegativeInfinity;
        Assert.Equal(expected, host.data<float>().ToArray());
        Assert.Equal(expected, ops.data<float>().ToArray());
        Assert.False(ReferenceEquals(host, logits));
        Assert.True(logits.isfinite().all().item<bool>());   // the input is untouched
    }
}
