using System.Text.Json.Nodes;
using InferenceServer.TestSupport;

namespace InferenceServer.Deploy.Tests;

/// <summary>
/// The tools the deploy checks run: node with the validators in tests/Deploy.Tests/node (installed by
/// tests/scripts/install-deploy-tools.sh, which tests/run-all.sh calls), kubectl's built-in kustomize, promtool
/// (tests/scripts/install-prometheus.sh) and the dotnet CLI. Nothing here installs or fetches.
/// </summary>
public static class DeployTools
{
    public const string InstallScript = "tests/scripts/install-deploy-tools.sh";

    public static string Root => RepoPaths.Root;
    public static string NodeDir => Path.Combine(Root, "tests", "Deploy.Tests", "node");
    public static string CrdDir => Path.Combine(Root, "tests", "Deploy.Tests", "crds");
    public static string Overlays => Path.Combine(Root, "deploy", "k8s", "overlays");
    public static string Promtool => Path.Combine(Root, ".cache", "prometheus", "usr", "bin", "promtool");

    public static readonly string[] OverlayNames = ["cpu", "gpu", "tensor-parallel", "tensor-parallel-multinode", "scale-out"];

    public static (int Code, string Stdout, string Stderr) Run(string file, string workingDir, params string[] args) =>
        ChildProcess.Run(file, args, TimeSpan.FromMinutes(2), workingDir: workingDir);

    /// <summary>node check.mjs MODE FILE [CRD_DIR]; returns the exit code and the parsed JSON report.</summary>
    public static (int Code, JsonNode Report) Check(string mode, string file, string? extra = null)
    {
        EnsureNodePackages();
        string[] args = extra is null ? ["check.mjs", mode, file] : ["check.mjs", mode, file, extra];
        var (code, stdout, stderr) = Run("node", NodeDir, args);
        var report = JsonNode.Parse(stdout) ?? throw new InvalidOperationException($"node check.mjs {mode} printed nothing: {stderr}");
        return (code, report);
    }

    /// <summary>The documents of a YAML file as JSON (parsed by the yaml npm package).</summary>
    public static JsonArray Yaml(string file)
    {
        EnsureNodePackages();
        var (code, stdout, stderr) = Run("node", NodeDir, "check.mjs", "json", file);
        Assert.True(code == 0, $"{file} is not valid YAML: {stderr}");
        return JsonNode.Parse(stdout)!.AsArray();
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<(string, JsonArray)>> Rendered = new();

    /// <summary>
    /// kubectl kustomize of one overlay, written to a temp file; the rendered objects as JSON (a fresh copy per call).
    /// Rendered once per test run: several tests read the same overlay.
    /// </summary>
    public static (string File, JsonArray Objects) Render(string overlay)
    {
        var (file, objects) = Rendered.GetOrAdd(overlay, o => new Lazy<(string, JsonArray)>(() => RenderOnce(o))).Value;
        return (file, objects.DeepClone().AsArray());
    }

    private static (string File, JsonArray Objects) RenderOnce(string overlay)
    {
        var (code, stdout, stderr) = Run("kubectl", Root, "kustomize", Path.Combine(Overlays, overlay));
        Assert.True(code == 0, $"kubectl kustomize deploy/k8s/overlays/{overlay} failed: {stderr}");
        string file = Path.Combine(Path.GetTempPath(), $"inference-deploy-{overlay}-{Environment.ProcessId}.yaml");
        File.WriteAllText(file, stdout);
        return (file, Yaml(file));
    }

    private static void EnsureNodePackages()
    {
        if (!File.Exists(Path.Combine(NodeDir, "node_modules", "kubernetes-models", "package.json")))
            throw new InvalidOperationException($"{NodeDir}/node_modules is missing: run {InstallScript} (tests/run-all.sh does).");
    }
}
