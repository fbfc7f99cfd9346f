namespace InferenceServer.Kernels.Tests;

/// <summary>
/// Greedy sampling's argmax (argmax.cu) run by the emulator (emulator/check_argmax.cpp) against torch.argmax's rule,
/// index for index: random logits, many equal maxima (the lowest index wins), NaNs (the first NaN wins) and −inf (a
/// row of only −inf gives index 0). Llama-3's 128256 columns split into 63 parts, a row shorter than one part, and a
/// row length no part divides. Arguments: dtype, rows, columns, case.
/// </summary>
public sealed class EmulatedArgmaxTests
{
    [Theory]
    [InlineData("fp32 3 128256 random")]
    [InlineData("bf16 2 128256 ties")]
    [InlineData("fp32 4 32000 nan")]
    [InlineData("fp16 3 5003 neginf")]
    [InlineData("bf16 5 100 ties")]
    [InlineData("fp32 2 1 random")]
    public void ArgmaxIsTorchArgmax(string args) => KernelEmulator.Check("argmax " + args);
}
