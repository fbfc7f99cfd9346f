using TorchSharp;

namespace InferenceServer.Engine.Tests;

public class SmokeTests
{
    [Fact]
    public void TorchSharpLoadsOnThisMachine()
    {
        using var a = torch.ones(2, 3);
        Assert.Equal(6f, a.sum().item<float>());
    }
}
