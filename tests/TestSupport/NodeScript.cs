using System.Diagnostics;

namespace InferenceServer.TestSupport;

/// <summary>
/// Runs a node script from tests/node (the second-language clients: openai, @grpc/grpc-js) and returns its output.
/// tests/run-all.sh installs the packages with npm ci before the tests run; a missing install fails the test with
/// that instruction (<see cref="EnsureInstalled"/>).
/// </summary>
public static class NodeScript
{
    public static string Dir => Path.Combine(RepoPaths.Root, "tests", "node");

    /// <summary>What to run when the packages are missing; tests/run-all.sh runs it before the tests.</summary>
    public const string InstallCommand = "(cd tests/node && npm ci)";

    /// <summary>
    /// Throws, naming the command to run, unless node is on PATH and every dependency in tests/node/package.json is
    /// installed under tests/node/node_modules. Nothing is installed or fetched here: tests never reach the network.
    /// </summary>
    public static void EnsureInstalled()
    {
        string modules = Path.Combine(Dir, "node_modules");
        if (!Directory.Exists(modules))
            throw new InvalidOperationException($"{modules} is missing: run tests/run-all.sh (the test command), or install the node client packages with `{InstallCommand}` from the repository root.");
        using var package = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir, "package.json")));
        var missing = package.RootElement.GetProperty("dependencies").EnumerateObject()
            .Select(d => d.Name)
            .Where(name => !File.Exists(Path.Combine(modules, name, "package.json")))
            .ToList();
        if (missing.Count > 0)
            throw new InvalidOperationException($"{modules} lacks {string.Join(", ", missing)} (a stale or partial install): run tests/run-all.sh, or `{InstallCommand}` from the repository root.");
        if (FindOnPath("node") is null)
            throw new InvalidOperationException("node is not on PATH: install Node.js (20 or newer), then run tests/run-all.sh.");
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);

    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string script, IDictionary<string, string> env, TimeSpan timeout, CancellationToken ct = default)
    {
        EnsureInstalled();
        var psi = new ProcessStartInfo("node", script)
        {
            WorkingDirectory = Dir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync(ct);
        var stderr = p.StandardError.ReadToEndAsync(ct);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"node {script} did not finish within {timeout}");
        }
        return (p.ExitCode, await stdout, await stderr);
    }
}
