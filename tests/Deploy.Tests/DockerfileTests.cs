using System.Text.RegularExpressions;

namespace InferenceServer.Deploy.Tests;

/// <summary>
/// The Dockerfile without a container engine: dockerfile-utils' linter, every COPY source in the build context (and not
/// excluded by .dockerignore), stages that reference earlier stages, pinned versions, non-root users and a HEALTHCHECK
/// whose tool the image has.
/// </summary>
public sealed partial class DockerfileTests
{
    private static readonly string DockerfilePath = Path.Combine(DeployTools.Root, "Dockerfile");
    private static readonly string[] Lines = JoinContinuations(File.ReadAllLines(DockerfilePath));

    private static string[] JoinContinuations(string[] lines)
    {
        var result = new List<string>();
        var current = "";
        foreach (var raw in lines)
        {
            var line = raw.Trim();
            if (line.StartsWith('#') && current.Length == 0) continue;
            if (line.EndsWith('\\')) { current += line[..^1] + " "; continue; }
            result.Add(current + line);
            current = "";
        }
        return [.. result.Where(l => l.Length > 0)];
    }

    private static IEnumerable<(string Stage, string Line)> Instructions()
    {
        string stage = "";
        foreach (var l in Lines)
        {
            if (l.StartsWith("FROM ", StringComparison.Ordinal)) stage = l.Split(' ').Last();
            yield return (stage, l);
        }
    }

    [Fact]
    public void Linter_passes()
    {
        var (code, report) = DeployTools.Check("dockerfile", DockerfilePath);
        Assert.True(code == 0, $"dockerfile-utils: {report.ToJsonString()}");
    }

    [Fact]
    public void Linter_rejects_a_broken_copy()
    {
        string bad = Path.Combine(Path.GetTempPath(), $"Dockerfile-bad-{Environment.ProcessId}");
        File.WriteAllText(bad, File.ReadAllText(DockerfilePath).Replace("EXPOSE 8000 8001", "EXPOSE 8000x 8001", StringComparison.Ordinal));
        var (code, report) = DeployTools.Check("dockerfile", bad);
        Assert.NotEqual(0, code);
        Assert.Contains("Invalid containerPort: 8000x", report.ToJsonString());
    }

    [Fact]
    public void Stages_reference_earlier_stages_and_the_targets_exist()
    {
        var stages = new List<string>();
        foreach (var l in Lines.Where(l => l.StartsWith("FROM ", StringComparison.Ordinal)))
        {
            var m = FromLine().Match(l);
            Assert.True(m.Success, $"FROM without AS name: {l}");
            var image = m.Groups["image"].Value;
            // A base is a pinned ARG image or an earlier stage.
            Assert.True(image.StartsWith("${", StringComparison.Ordinal) || stages.Contains(image), $"{l}: not an ARG image nor an earlier stage");
            stages.Add(m.Groups["name"].Value);
        }
        Assert.Equal(["kernels", "publish", "cpu", "dotnet-runtime", "cuda"], stages);
        foreach (var (stage, l) in Instructions().Where(i => i.Line.StartsWith("COPY --from=", StringComparison.Ordinal)))
        {
            var from = l.Split(' ')[1]["--from=".Length..];
            var index = stages.IndexOf(from);
            Assert.True(index >= 0 && index < stages.IndexOf(stage), $"{l}: --from={from} is not a stage before {stage}");
        }
    }

    [Fact]
    public void Every_copy_source_is_in_the_build_context()
    {
        var ignored = File.ReadAllLines(Path.Combine(DeployTools.Root, ".dockerignore"))
            .Where(l => l.Length > 0 && !l.StartsWith('#') && !l.StartsWith('!')).Select(l => l.TrimEnd('/')).ToList();
        int copies = 0;
        foreach (var (_, l) in Instructions().Where(i => i.Line.StartsWith("COPY ", StringComparison.Ordinal) && !i.Line.Contains("--from=", StringComparison.Ordinal)))
        {
            var parts = l.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Where(p => !p.StartsWith("--", StringComparison.Ordinal)).ToList();
            foreach (var source in parts.Take(parts.Count - 1))
            {
                copies++;
                var path = Path.Combine(DeployTools.Root, source);
                Assert.True(File.Exists(path) || Directory.Exists(path), $"{l}: {source} does not exist");
                Assert.DoesNotContain(ignored, i => source == i || source.StartsWith(i + "/", StringComparison.Ordinal));
            }
        }
        Assert.True(copies >= 10, $"only {copies} COPY sources found");
    }

    [Fact]
    public void Versions_are_pinned_and_publish_is_linux_x64()
    {
        var args = Lines.Where(l => l.StartsWith("ARG ", StringComparison.Ordinal) && l.Contains('=')).ToDictionary(l => l[4..l.IndexOf('=')], l => l[(l.IndexOf('=') + 1)..].Trim('"'));
        foreach (var image in new[] { "DOTNET_SDK_IMAGE", "DOTNET_RUNTIME_IMAGE", "CUDA_DEVEL_IMAGE", "CUDA_RUNTIME_IMAGE" })
            Assert.Matches(@":\d+\.\d+\.\d+-", args[image]);   // major.minor.patch tags, never "latest" or a moving major
        Assert.Matches(@"^\d+\.\d+\.\d+$", args["TORCH_VERSION"]);
        // The libtorch the CUDA image runs is the one TorchSharp binds to: TorchSharp-cpu's LibTorch version.
        var packages = File.ReadAllText(Path.Combine(DeployTools.Root, "Directory.Packages.props"));
        Assert.Contains("Include=\"TorchSharp-cpu\" Version=\"0.107.0\"", packages);
        Assert.Equal("2.10.0", args["TORCH_VERSION"]);   // TorchSharp 0.107.0 is built on LibTorch 2.10.0 (its package description)
        var publish = Lines.Single(l => l.Contains("dotnet publish", StringComparison.Ordinal));
        Assert.Contains("-r linux-x64", publish);
        Assert.Contains("--self-contained false", publish);
    }

    [Theory]
    [InlineData("cpu")]
    [InlineData("cuda")]
    public void Runtime_targets_run_as_non_root_with_a_healthcheck_the_image_has(string target)
    {
        var stage = Instructions().Where(i => i.Stage == target).Select(i => i.Line).ToList();
        var user = stage.Last(l => l.StartsWith("USER ", StringComparison.Ordinal))[5..].Trim();
        Assert.True(user is "${APP_UID}" or "1654", $"{target}: USER {user}");   // APP_UID is 1654 in the .NET images
        var health = stage.Single(l => l.StartsWith("HEALTHCHECK ", StringComparison.Ordinal));
        Assert.Contains("CMD [\"/usr/local/bin/healthcheck\"]", health);
        // The healthcheck is our script, copied into this stage; its interpreter is bash, which both base images
        // (Ubuntu 24.04: the .NET noble images and NVIDIA's CUDA runtime image) ship, unlike curl and wget.
        Assert.Contains(stage, l => l == "COPY --chmod=0755 deploy/docker/healthcheck.sh /usr/local/bin/healthcheck");
        Assert.StartsWith("#!/usr/bin/env bash", File.ReadAllText(Path.Combine(DeployTools.Root, "deploy", "docker", "healthcheck.sh")));
        Assert.DoesNotContain(stage, l => Regex.IsMatch(l, @"\b(wget|curl)\b"));
        var entry = stage.Single(l => l.StartsWith("ENTRYPOINT ", StringComparison.Ordinal));
        Assert.Contains("\"serve\"", entry);
        if (target == "cuda")
        {
            Assert.Contains("\"--libtorch\", \"/opt/torch/site-packages/torch/lib\"", entry);
            Assert.Contains(stage, l => l.Contains("/site-packages/torch/lib /opt/torch/site-packages/torch/lib", StringComparison.Ordinal));
            Assert.Contains(stage, l => l.Contains("INFERENCE_KERNELS=/opt/inference/lib/libinference_kernels.so", StringComparison.Ordinal));
        }
    }

    /// <summary>
    /// The restore layer sees only the project files copied before it: every project the server references, directly
    /// or through another, and the analyzer project that Directory.Build.targets adds to each, must be among them.
    /// </summary>
    [Fact]
    public void Restore_layer_copies_every_project_the_server_needs()
    {
        var restore = Array.FindIndex(Lines, l => l.StartsWith("RUN dotnet restore ", StringComparison.Ordinal));
        Assert.True(restore > 0, "no RUN dotnet restore");
        var copied = Lines.Take(restore).Where(l => l.StartsWith("COPY ", StringComparison.Ordinal)).Select(l => l.Split(' ')[1]).ToHashSet();
        var needed = new SortedSet<string>(StringComparer.Ordinal) { "src/Analyzers/Analyzers.csproj" };
        var pending = new Stack<string>(["src/Server/Server.csproj"]);
        while (pending.TryPop(out var project))
        {
            if (!needed.Add(project)) continue;
            var dir = Path.GetDirectoryName(project)!;
            foreach (Match m in ProjectReference().Matches(File.ReadAllText(Path.Combine(DeployTools.Root, project))))
                pending.Push(Path.GetRelativePath(DeployTools.Root, Path.GetFullPath(Path.Combine(DeployTools.Root, dir, m.Groups[1].Value))));
        }
        Assert.Contains("src/Analyzers/Analyzers.csproj", File.ReadAllText(Path.Combine(DeployTools.Root, "Directory.Build.targets")));
        var missing = needed.Except(copied).ToList();
        Assert.True(missing.Count == 0, "not copied before the restore: " + string.Join(", ", missing));
    }

    [GeneratedRegex(@"<ProjectReference Include=""([^""]+)""")]
    private static partial Regex ProjectReference();

    [GeneratedRegex(@"^FROM (?<image>\S+) AS (?<name>[a-z0-9-]+)$")]
    private static partial Regex FromLine();
}
