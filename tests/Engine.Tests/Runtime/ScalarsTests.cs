using InferenceServer.Engine.Runtime;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Tests.Runtime;

/// <summary>
/// The Scalars helpers while another thread collects garbage without pause: every Scalar they pass to libtorch must
/// outlive the call. The same loop written with TorchSharp's <c>a + b</c> (a temporary alpha) fails within about
/// 1.5 s on a 2-core machine ("Expected false to be true" from c10::Scalar::toFloat, 5 runs of 5); these run for 3 s.
/// </summary>
public sealed class ScalarsTests
{
    [Fact]
    public void HelpersKeepTheirScalarsAliveThroughGarbageCollections()
    {
        using var a = randn(256, 1024);
        using var b = randn(256, 1024);
        float sum = a.sum().item<float>() + b.sum().item<float>();
        var stop = DateTime.UtcNow + TimeSpan.FromSeconds(3);
        var collector = new Thread(() => { while (DateTime.UtcNow < stop) { GC.Collect(); GC.WaitForPendingFinalizers(); } });
        collector.Start();
        int iterations = 0;
        try
        {
            for (; iterations < 200_000 && DateTime.UtcNow < stop; iterations++)
            {
                using var scope = NewDisposeScope();
                var added = Scalars.Add(a, b);
                var doubled = Scalars.AddInPlace(added.clone(), added).mul_(Scalars.Of(0.5));   // (a + b) · 2 · 0.5
                Assert.Equal(sum, doubled.sum().item<float>(), sum * 1e-5f + 1e-2f);
                Assert.Equal(new long[] { 3, 4, 5, 6, 7, 8, 9, 10 }, Scalars.Arange(3, 11, ScalarType.Int64, CPU).data<long>().ToArray());
            }
        }
        finally
        {
            stop = DateTime.UtcNow;
            collector.Join();
        }
        Assert.True(iterations > 100, $"only {iterations} iterations ran");
    }
}
