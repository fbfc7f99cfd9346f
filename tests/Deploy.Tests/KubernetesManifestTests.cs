using System.Text.Json.Nodes;

namespace InferenceServer.Deploy.Tests;

/// <summary>
/// Every overlay rendered by kubectl's kustomize, every object validated against the Kubernetes API schemas
/// (kubernetes-models), the prometheus-operator and Gateway API models, and the InferencePool and LeaderWorkerSet CRD
/// schemas (tests/Deploy.Tests/crds); and the shape the deployment needs (GPU requests, probes, drain).
/// </summary>
public sealed class KubernetesManifestTests
{
    public static TheoryData<string> Overlays => new(DeployTools.OverlayNames);

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Every_object_of_the_overlay_validates(string overlay)
    {
        var (file, objects) = DeployTools.Render(overlay);
        var (code, report) = DeployTools.Check("k8s", file, DeployTools.CrdDir);
        Assert.True(code == 0, $"{overlay}: {report.ToJsonString()}");
        var results = report["results"]!.AsArray();
        Assert.Equal(objects.Count, results.Count);
        Assert.DoesNotContain(results, r => (string?)r!["validator"] == "none");
    }

    [Fact]
    public void The_validator_rejects_a_broken_object()
    {
        // The checks can fail: a probe port of the wrong type, a pool without endpointPickerRef.
        var (file, _) = DeployTools.Render("scale-out");
        string text = File.ReadAllText(file);
        string bad = Path.Combine(Path.GetTempPath(), $"bad-k8s-{Environment.ProcessId}.yaml");
        File.WriteAllText(bad, text.Replace("failureThreshold: 180", "failureThreshold: many", StringComparison.Ordinal)
            .Replace("  endpointPickerRef:", "  endpointPickerReference:", StringComparison.Ordinal));
        var (code, report) = DeployTools.Check("k8s", bad, DeployTools.CrdDir);
        Assert.NotEqual(0, code);
        var failed = report["results"]!.AsArray().Where(r => r!["errors"]!.AsArray().Count > 0).Select(r => (string)r!["id"]!).ToList();
        Assert.Contains("Deployment/inference-server", failed);
        Assert.Contains("InferencePool/inference-server", failed);
    }

    private static JsonNode Object(JsonArray objects, string kind, string name) =>
        objects.Single(o => (string?)o!["kind"] == kind && (string?)o["metadata"]!["name"] == name)!;

    [Theory]
    [InlineData("gpu", "1")]
    [InlineData("tensor-parallel", "4")]
    [InlineData("cpu", null)]
    public void Server_pods_request_gpus_probe_and_drain(string overlay, string? gpus)
    {
        var (_, objects) = DeployTools.Render(overlay);
        var pod = Object(objects, "Deployment", "inference-server")["spec"]!["template"]!["spec"]!;
        var c = pod["containers"]![0]!;
        Assert.Equal(gpus, (string?)c["resources"]!["requests"]?["nvidia.com/gpu"]);
        Assert.Equal(gpus, (string?)c["resources"]!["limits"]?["nvidia.com/gpu"]);
        Assert.Equal("/health", (string?)c["livenessProbe"]!["httpGet"]!["path"]);
        Assert.Equal("/ready", (string?)c["readinessProbe"]!["httpGet"]!["path"]);
        var startup = c["startupProbe"]!;
        Assert.True((int)startup["periodSeconds"]! * (int)startup["failureThreshold"]! >= 1800, "the startup probe allows less than 30 minutes for loading and quantizing");
        // Grace period >= preStop sleep + --shutdown-timeout (from the ConfigMap).
        var flags = Object(objects, "ConfigMap", "inference-server-flags")["data"]!;
        int drain = int.Parse((string)flags["SHUTDOWN_TIMEOUT"]!, System.Globalization.CultureInfo.InvariantCulture);
        int preStop = int.Parse((string)c["lifecycle"]!["preStop"]!["exec"]!["command"]![1]!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True((int)pod["terminationGracePeriodSeconds"]! >= preStop + drain, "terminationGracePeriodSeconds does not cover preStop + --shutdown-timeout");
        var args = c["args"]!.AsArray().Select(a => (string)a!).ToList();
        Assert.Equal("$(SHUTDOWN_TIMEOUT)", args[args.IndexOf("--shutdown-timeout") + 1]);
        Assert.Equal(gpus is null ? "cpu" : "cuda", (string?)flags["DEVICE"]);
        var service = Object(objects, "Service", "inference-server")["spec"]!["ports"]!.AsArray();
        Assert.Equal(["http", "grpc"], service.Select(p => (string)p!["name"]!));
        Assert.NotNull(Object(objects, "PodDisruptionBudget", "inference-server"));
        Assert.NotNull(Object(objects, "PersistentVolumeClaim", "inference-server-models"));
    }

    [Fact]
    public void Scale_out_pool_selects_the_server_pods_and_points_at_the_picker()
    {
        var (_, objects) = DeployTools.Render("scale-out");
        var pool = Object(objects, "InferencePool", "inference-server")["spec"]!;
        var podLabels = Object(objects, "Deployment", "inference-server")["spec"]!["template"]!["metadata"]!["labels"]!.AsObject();
        foreach (var (k, v) in pool["selector"]!["matchLabels"]!.AsObject())
            Assert.Equal((string?)v, (string?)podLabels[k]);
        Assert.Equal(8000, (int)pool["targetPorts"]![0]!["number"]!);
        var epp = Object(objects, "Deployment", "inference-server-epp")["spec"]!["template"]!["spec"]!["containers"]![0]!;
        Assert.Equal((string?)pool["endpointPickerRef"]!["name"], (string?)Object(objects, "Service", "inference-server-epp")["metadata"]!["name"]);
        Assert.Equal((int)pool["endpointPickerRef"]!["port"]!["number"]!, (int)Object(objects, "Service", "inference-server-epp")["spec"]!["ports"]![0]!["port"]!);
        var args = epp["args"]!.AsArray().Select(a => (string)a!).ToList();
        Assert.Equal("inference-server", args[args.IndexOf("--pool-name") + 1]);
        var route = Object(objects, "HTTPRoute", "inference-server")["spec"]!["rules"]![0]!["backendRefs"]![0]!;
        Assert.Equal("InferencePool", (string?)route["kind"]);
    }

    [Fact]
    public void Multinode_variant_replaces_the_deployment_with_a_leader_worker_set()
    {
        var (_, objects) = DeployTools.Render("tensor-parallel-multinode");
        Assert.DoesNotContain(objects, o => (string?)o!["kind"] == "Deployment");
        var lws = Object(objects, "LeaderWorkerSet", "inference-server")["spec"]!["leaderWorkerTemplate"]!;
        int size = (int)lws["size"]!;
        int gpusPerPod = int.Parse((string)lws["leaderTemplate"]!["spec"]!["containers"]![0]!["resources"]!["limits"]!["nvidia.com/gpu"]!, System.Globalization.CultureInfo.InvariantCulture);
        var flags = Object(objects, "ConfigMap", "inference-server-flags")["data"]!;
        Assert.Equal(size * gpusPerPod, int.Parse((string)flags["TENSOR_PARALLEL_SIZE"]!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("LeaderWorkerSet", (string?)Object(objects, "HorizontalPodAutoscaler", "inference-server")["spec"]!["scaleTargetRef"]!["kind"]);
        Assert.Equal("0", (string?)Object(objects, "Service", "inference-server")["spec"]!["selector"]!["leaderworkerset.sigs.k8s.io/worker-index"]);
    }
}
