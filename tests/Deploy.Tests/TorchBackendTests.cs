namespace InferenceServer.Deploy.Tests;

/// <summary>The build switch -p:TorchBackend=cuda, evaluated by MSBuild (no restore: the CUDA package is not on this feed).</summary>
public sealed class TorchBackendTests
{
    private static readonly string Engine = Path.Combine("src", "Engine", "Engine.csproj");

    private static List<string> PackageReferences(params string[] properties)
    {
        var (code, stdout, stderr) = DeployTools.Run("dotnet", DeployTools.Root, ["msbuild", Engine, "-getItem:PackageReference", .. properties]);
        Assert.True(code == 0, $"dotnet msbuild -getItem:PackageReference {string.Join(' ', properties)}: {stdout}{stderr}");
        return [.. System.Text.Json.Nodes.JsonNode.Parse(stdout)!["Items"]!["PackageReference"]!.AsArray().Select(i => (string)i!["Identity"]!)];
    }

    [Fact]
    public void Default_build_references_TorchSharp_cpu() =>
        Assert.Equal(["TorchSharp-cpu"], PackageReferences().Where(p => p.StartsWith("TorchSharp", StringComparison.Ordinal)));

    [Fact]
    public void Cuda_switch_references_TorchSharp_cuda_linux_instead() =>
        Assert.Equal(["TorchSharp-cuda-linux"], PackageReferences("-p:TorchBackend=cuda").Where(p => p.StartsWith("TorchSharp", StringComparison.Ordinal)));

    [Fact]
    public void Cuda_package_has_a_central_version_like_the_cpu_one()
    {
        var props = File.ReadAllText(Path.Combine(DeployTools.Root, "Directory.Packages.props"));
        Assert.Contains("<PackageVersion Include=\"TorchSharp-cuda-linux\" Version=\"0.107.0\" />", props);
        Assert.Contains("<PackageVersion Include=\"TorchSharp-cpu\" Version=\"0.107.0\" />", props);
    }

    [Fact]
    public void An_unknown_backend_fails_with_the_choices()
    {
        var (code, stdout, _) = DeployTools.Run("dotnet", DeployTools.Root, "msbuild", Engine, "-t:CheckTorchBackend", "-p:TorchBackend=rocm", "-nologo");
        Assert.NotEqual(0, code);
        Assert.Contains("TorchBackend=rocm: use cpu", stdout);
    }
}
