using System.Diagnostics;

namespace InferenceServer.TestSupport;

/// <summary>
/// Runs a node script from tests/node (the second-language clients: openai, @grpc/grpc-js) and returns its output.
/// tests/run-all.sh installs the packages with npm ci; a missing install fails the test with that instruction.
/// </summary>
public static class NodeScript
{
    public static string Dir => Path.Combine(RepoPaths.Root, "tests", "node");

    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string script, IDictionary<string, string> env, TimeSpan timeout, CancellationToken ct = default)
    {
        if (!Directory.Exists(Path.Combine(Dir, "node_modules")))
            throw new InvalidOperationException($"{Dir}/node_modules is missing: run `npm ci` there (tests/run-all.sh does).");
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
