using InferenceServer.Engine.Runtime;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Tests.Runtime;

/// <summary>KeepAliveScope holds what is made inside it and disposes nothing: its tensors outlive it, handed on.</summary>
public sealed class KeepAliveScopeTests
{
    [Fact]
    public void TensorsOutliveTheScope()
    {
        Tensor kept, temporary;
        using (new KeepAliveScope())
        {
            kept = ones(3);
            temporary = kept.abs();
        }
        Assert.False(kept.IsInvalid);
        Assert.False(temporary.IsInvalid);
        using (NewDisposeScope()) { }   // a later scope does not take them
        Assert.False(temporary.IsInvalid);
        Assert.Equal(3f, kept.sum().item<float>());
        kept.Dispose();
        temporary.Dispose();
    }

    [Fact]
    public void InsideADisposeScopeItsTensorsGoToThatScope()
    {
        Tensor made;
        using (var outer = NewDisposeScope())
        {
            using (new KeepAliveScope())
                made = ones(2);
            Assert.False(made.IsInvalid);
            Assert.True(outer.Contains(made));
        }
        Assert.True(made.IsInvalid);
    }
}
