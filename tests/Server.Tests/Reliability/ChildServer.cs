using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace InferenceServer.Server.Tests.Reliability;

/// <summary>
/// The built server executable (InferenceServer, copied next to the tests by the project reference) started as a child
/// process on 127.0.0.1, as a user would start it, with the embedded tiny-llama. Its output is kept for failure
/// messages; disposing kills it if it is still running.
/// </summary>
internal sealed partial class ChildServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private ChildServer(Process process, Uri rest, Uri grpc)
    {
        _process = process;
        Rest = rest;
        Grpc = grpc;
    }

    public Uri Rest { get; }
    public Uri Grpc { get; }
    public int Pid => _process.Id;
    public string Output => string.Join('\n', _output);

    public static async Task<ChildServer> StartAsync(IEnumerable<string> args, IDictionary<string, string>? environment = null)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) Assert.Skip("needs POSIX signals");
        string exe = Path.Combine(AppContext.BaseDirectory, "InferenceServer");
        if (!File.Exists(exe)) throw new FileNotFoundException($"The server executable is not next to the tests: {exe}; build tests/Server.Tests.");
        int port = FreePort(), grpcPort = FreePort();
        var info = new ProcessStartInfo(exe)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        foreach (var a in (string[])["serve", "--host", "127.0.0.1", "--port", $"{port}", "--grpc-port", $"{grpcPort}", "--device", "cpu", .. args]) info.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) info.Environment[k] = v;
        var process = Process.Start(info) ?? throw new InvalidOperationException("the server process did not start");
        var child = new ChildServer(process, new Uri($"http://127.0.0.1:{port}/"), new Uri($"http://127.0.0.1:{grpcPort}"));
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) child._output.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) child._output.Enqueue(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await child.WaitReadyAsync(TimeSpan.FromSeconds(90));
            return child;
        }
        catch
        {
            await child.DisposeAsync();
            throw;
        }
    }

    private async Task WaitReadyAsync(TimeSpan timeout)
    {
        using var http = new HttpClient { BaseAddress = Rest, Timeout = TimeSpan.FromSeconds(5) };
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            if (_process.HasExited) throw new InvalidOperationException($"the server exited with {_process.ExitCode} before it was ready:\n{Output}");
            try
            {
                if ((await http.GetAsync("ready", TestContext.Current.CancellationToken)).IsSuccessStatusCode) return;
            }
            catch (HttpRequestException) { }
            // One slow probe (a busy machine starting the server) is retried until the overall timeout, not fatal.
            catch (TaskCanceledException) when (!TestContext.Current.CancellationToken.IsCancellationRequested) { }
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
        throw new TimeoutException($"the server was not ready after {timeout}:\n{Output}");
    }

    /// <summary>Sends SIGTERM, as an orchestrator stopping the container would.</summary>
    public void Terminate()
    {
        if (Kill(_process.Id, 15) != 0) throw new InvalidOperationException($"kill(SIGTERM) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>Waits for the process to exit; returns its exit code, or null if it is still running after <paramref name="timeout"/>.</summary>
    public async Task<int?> WaitExitAsync(TimeSpan timeout)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            return _process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync(CancellationToken.None);
        }
        _process.Dispose();
    }
}
