using System.Diagnostics;

namespace InferenceServer.TestSupport;

/// <summary>Runs a program to completion with a time limit and returns its exit code and output.</summary>
public static class ChildProcess
{
    /// <summary>
    /// Runs <paramref name="file"/> with <paramref name="args"/> (passed as they are, no shell), extra environment
    /// variables and an optional working directory; kills the process tree and throws <see cref="TimeoutException"/>
    /// when it runs past <paramref name="timeout"/>.
    /// </summary>
    public static (int Code, string Stdout, string Stderr) Run(string file, IEnumerable<string> args, TimeSpan timeout,
        IReadOnlyDictionary<string, string>? env = null, string? workingDir = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (workingDir is not null) psi.WorkingDirectory = workingDir;
        foreach (var a in args) psi.ArgumentList.Add(a);
        if (env is not null)
            foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', psi.ArgumentList)} ran over {timeout.TotalSeconds} s");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}
