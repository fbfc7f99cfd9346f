using InferenceServer.TestSupport;

namespace InferenceServer.Kernels.Tests;

/// <summary>
/// The CUDA kernel files of src/Kernels/csrc compiled for the host with the emulator in emulator/ (emulator/include/simt.h
/// says what it models), once per test run, into the program emulator/kernel_checks.cpp, which runs one kernel on
/// random data and checks every output against a reference computed in double from the packed format's definition.
/// Needs g++ with AddressSanitizer (Debian's g++).
/// </summary>
public static class KernelEmulator
{
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan CaseTimeout = TimeSpan.FromMinutes(2);
    private static readonly Lazy<string> Program = new(Build, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>
    /// Runs <c>kernel-checks ARGS</c> (see kernel_checks.cpp) with <paramref name="environment"/> ("NAME=VALUE ...": the
    /// kernels' switches, and SIMT_SM_COUNT, the multiprocessors the emulated device reports) and fails the test unless
    /// every output is within its bound, nothing outside the buffers was touched and the program exited cleanly.
    /// Returns the program's report line.
    /// </summary>
    public static string Check(string args, string environment = "")
    {
        var (code, output) = Execute(args, environment);
        var report = output.Split('\n').LastOrDefault(l => l.StartsWith("ok ") || l.StartsWith("FAIL ")) ?? "";
        Assert.True(code == 0 && report.StartsWith("ok "), $"kernel-checks {args} ({environment}) exited {code}:\n{output}");
        return report;
    }

    /// <summary>Runs <c>kernel-checks ARGS</c> and returns its exit code and output (stdout, then stderr).</summary>
    public static (int Code, string Output) Execute(string args, string environment = "")
    {
        var env = new Dictionary<string, string> { ["ASAN_OPTIONS"] = "detect_leaks=1", ["UBSAN_OPTIONS"] = "print_stacktrace=1" };
        foreach (var setting in environment.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = setting.IndexOf('=');
            env[setting[..eq]] = setting[(eq + 1)..];
        }
        // Low priority, as the build: these run beside the other test projects' servers on CI's two cores.
        var (code, stdout, stderr) = ChildProcess.Run("nice", ["-n", "10", Program.Value, .. args.Split(' ', StringSplitOptions.RemoveEmptyEntries)], CaseTimeout, env);
        return (code, stdout + stderr);
    }

    private static string Build()
    {
        var script = Path.Combine(RepoPaths.Root, "tests", "Kernels.Tests", "emulator", "build.sh");
        var outDir = Path.Combine(AppContext.BaseDirectory, "kernel-emulation");
        var (code, stdout, stderr) = ChildProcess.Run("bash", [script, outDir], BuildTimeout);
        var output = stdout + stderr;
        if (code != 0)
            throw new InvalidOperationException($"{script} failed (exit {code}); it needs g++ with AddressSanitizer (Debian's g++):\n{output}");
        return Path.Combine(outDir, "kernel-checks");
    }
}
