using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using InferenceServer.TestSupport;

namespace InferenceServer.Server.Tests.Cli;

/// <summary>What a new user runs first: the README's `dotnet run`, a port already taken, each verb's --help.</summary>
[Collection("console")]
public sealed class FirstRunTests
{
    /// <summary>
    /// Under the README's `dotnet run --project src/Server`, a relative --data path means the folder the user ran the
    /// command from, and a missing file is reported with the full path that was tried.
    /// </summary>
    [Fact]
    public async Task RelativePathsUnderDotnetRunResolveAgainstTheUsersFolder()
    {
        var cwd = Directory.CreateTempSubdirectory("first-run-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(cwd, "data"));
            File.WriteAllLines(Path.Combine(cwd, "data", "mini.txt"), File.ReadLines(Path.Combine(RepoPaths.Assets, "data", "eval.txt")).Take(40));
            var (code, stdout, stderr) = await DotnetRun(cwd, "perplexity", "--data", "data/mini.txt", "--windows", "1", "--window-size", "32", "--json", "--device", "cpu");
            Assert.True(code == 0, stderr);
            Assert.Contains("\"perplexity\"", stdout.Trim().Split('\n')[^1]);
            Assert.Contains(Path.Combine(cwd, "data", "mini.txt"), stderr);

            (code, _, stderr) = await DotnetRun(cwd, "perplexity", "--data", "data/missing.txt", "--json", "--device", "cpu");
            Assert.Equal(2, code);
            Assert.Contains($"--data data/missing.txt: no such file ({Path.Combine(cwd, "data", "missing.txt")})", stderr);
        }
        finally
        {
            Directory.Delete(cwd, recursive: true);
        }
    }

    private static async Task<(int Code, string Out, string Err)> DotnetRun(string cwd, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = cwd, RedirectStandardOutput = true, RedirectStandardError = true };
        // --no-build: the test command builds the solution in Release first.
        foreach (var a in (string[])["run", "--project", Path.Combine(RepoPaths.Root, "src", "Server"), "-c", "Release", "--no-build", "--", .. args])
            psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(3));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>A taken port costs one line naming it and the flag that moves it, exit code 2, before any model loads.</summary>
    [Fact]
    public void APortInUseIsNamedBeforeTheModelLoads()
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        int port = ((IPEndPoint)holder.LocalEndpoint).Port;
        var clock = Stopwatch.StartNew();
        var (code, stdout, stderr) = ConsoleCapture.Run("serve", "--host", "127.0.0.1", "--port", port.ToString(), "--grpc-port", "0", "--device", "cpu");
        Assert.Equal(2, code);
        Assert.Equal($"error: port {port} on 127.0.0.1 is already in use by another process; stop it or choose another port with --port N.", stderr.Trim());
        Assert.DoesNotContain("model:", stdout);

        (code, _, stderr) = ConsoleCapture.Run("serve", "--host", "127.0.0.1", "--port", "0", "--grpc-port", port.ToString(), "--device", "cpu");
        Assert.Equal(2, code);
        Assert.Contains("choose another port with --grpc-port N", stderr);

        (code, _, stderr) = ConsoleCapture.Run("serve", "--host", "127.0.0.1", "--port", "18123", "--grpc-port", "18123", "--device", "cpu");
        Assert.Equal(2, code);
        Assert.Contains("--port and --grpc-port are both 18123", stderr);
    }

    /// <summary>Each verb lists only the flags it reads.</summary>
    [Theory]
    [InlineData("perplexity", new[] { "--data", "--quantization", "--load-format" }, new[] { "--skip-tokenizer-init", "--max-model-len", "--port", "--num-kv-blocks", "--api-key" })]
    [InlineData("quantize", new[] { "--output", "--quantization", "--calibration-data" }, new[] { "--load-format", "--seed", "--skip-tokenizer-init", "--max-model-len", "--port" })]
    [InlineData("bench", new[] { "--concurrency", "--load-format", "--skip-tokenizer-init", "--max-model-len" }, new[] { "--port", "--api-key", "--data" })]
    [InlineData("serve", new[] { "--port", "--load-format", "--skip-tokenizer-init", "--max-model-len", "--api-key" }, new[] { "--data", "--output", "--concurrency" })]
    public void EachVerbsHelpListsOnlyItsOwnFlags(string verb, string[] listed, string[] notListed)
    {
        var (code, help, _) = ConsoleCapture.Run(verb, "--help");
        Assert.Equal(0, code);
        var flags = help.Split([' ', ',', '\n'], StringSplitOptions.RemoveEmptyEntries).Where(w => w.StartsWith("--")).ToHashSet();
        Assert.All(listed, f => Assert.Contains(f, flags));
        Assert.All(notListed, f => Assert.DoesNotContain(f, flags));
    }
}
