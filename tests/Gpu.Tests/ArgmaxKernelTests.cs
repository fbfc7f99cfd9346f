using InferenceServer.Engine.Kernels;
using InferenceServer.Engine.Runtime;
using static TorchSharp.torch;
using static InferenceServer.Gpu.Tests.TestKernels;

namespace InferenceServer.Gpu.Tests;

/// <summary>
/// Greedy sampling's native argmax (argmax.cu, <see cref="NativeKernels.ArgmaxRows"/>) against torch.argmax on the
/// device, index for index: Llama-3's vocabulary (63 parts per row) and a short row, float32/bfloat16 logits, values
/// from a few levels (many equal maxima: the lowest index wins), a NaN in some rows (the first NaN wins), a row of only
/// −inf (index 0).
/// </summary>
public sealed class ArgmaxKernelTests(CudaFixture cuda) : IClassFixture<CudaFixture>
{
    [Theory]
    [InlineData(4, 128256)]
    [InlineData(3, 1000)]
    public void ArgmaxRowsIsTorchArgmax(int rows, int cols)
    {
        var device = cuda.Require();
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
        {
            using var random = randn([rows, cols], ScalarType.Float32, device).to(dtype);
            using var levels = randint(0, 4, [rows, cols], ScalarType.Float32, device).to(dtype);
            using var special = randn([rows, cols], ScalarType.Float32, device).to(dtype);
            using (var first = special[1, cols / 3]) first.fill_(Scalars.Of(double.NaN));
            using (var last = special[1, cols - 1]) last.fill_(Scalars.Of(double.NaN));
            using (var row = special[2]) row.fill_(Scalars.Of(double.NegativeInfinity));
            foreach (var (name, logits) in new[] { ("random", random), ("levels", levels), ("nan and -inf", special) })
            {
                using var native = Kernels().ArgmaxRows(logits);
                using var reference = logits.argmax(-1);
                Assert.True(native.eq(reference).all().item<bool>(),
                    $"{dtype} {name}: [{string.Join(", ", native.cpu().data<long>().ToArray())}] against torch's [{string.Join(", ", reference.cpu().data<long>().ToArray())}]");
            }
        }
    }
}
