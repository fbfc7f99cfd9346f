using System.Text.RegularExpressions;
using InferenceServer.TestSupport;

namespace InferenceServer.Kernels.Tests;

/// <summary>
/// The device side of every kernel file compiled for sm_90a by clang's CUDA mode (device-compile/compile.sh): what the
/// host-compiled emulator cannot check without nvcc (execution spaces, inline PTX operand constraints, code under
/// __CUDA_ARCH__). Needs clang-19 (tests/scripts/install-clang.sh).
/// </summary>
public sealed partial class DeviceCompileTests
{
    private static readonly TimeSpan CompileTimeout = TimeSpan.FromMinutes(5);
    private static readonly string Script = Path.Combine(RepoPaths.Root, "tests", "Kernels.Tests", "device-compile", "compile.sh");
    private static readonly string OutDir = Path.Combine(AppContext.BaseDirectory, "device-compile");

    public static TheoryData<string> KernelFiles() =>
        new(Directory.GetFiles(Path.Combine(RepoPaths.Root, "src", "Kernels", "csrc"), "*.cu").Select(Path.GetFileName).Order()!);

    [Theory]
    [MemberData(nameof(KernelFiles))]
    public void CompilesForTheDeviceWithEveryKernelItDefines(string file)
    {
        var source = Path.Combine(RepoPaths.Root, "src", "Kernels", "csrc", file);
        var (code, output) = Compile(OutDir, source);
        Assert.True(code == 0, $"{Script} {file} exited {code}:\n{output}");

        // Every __global__ function the file defines, itself or in the project headers it includes, is emitted as at
        // least one PTX entry (its template instances are the launchers' choices), so a kernel that the launch code no
        // longer instantiates is noticed too.
        var ptx = File.ReadAllText(Path.Combine(OutDir, Path.ChangeExtension(file, ".ptx")));
        var entries = EntryLine().Matches(ptx).Select(m => m.Groups[1].Value).ToList();
        var kernels = WithProjectHeaders(source).SelectMany(f => KernelDefinition().Matches(File.ReadAllText(f)))
            .Select(m => m.Groups[1].Value).Distinct().ToList();
        Assert.NotEmpty(kernels);
        foreach (var kernel in kernels)
            Assert.True(entries.Any(e => e.Contains($"{kernel.Length}{kernel}")), $"{file}: no PTX entry for {kernel} among {string.Join(", ", entries)}");
    }

    [Fact]
    public void ADeviceFunctionCallingAHostOnlyFunctionFails()
    {
        var dir = Directory.CreateTempSubdirectory("device-compile-").FullName;
        try
        {
            var source = Path.Combine(dir, "host_call.cu");
            File.WriteAllText(source, """
                inline float host_only(float v) { return v * 2.f; }
                __global__ void k(float* p) { p[threadIdx.x] = host_only(p[threadIdx.x]); }
                void launch(float* p) { k<<<1, 32>>>(p); }
                """);
            var (code, output) = Compile(Path.Combine(dir, "out"), source);
            Assert.NotEqual(0, code);
            Assert.Contains("call to __host__ function from __global__ function", output);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary><paramref name="source"/> and the csrc headers it includes with "...", directly or through each other.</summary>
    private static HashSet<string> WithProjectHeaders(string source)
    {
        var seen = new HashSet<string>();
        var pending = new Stack<string>([source]);
        while (pending.TryPop(out var path))
        {
            if (!seen.Add(path)) continue;
            foreach (Match m in LocalInclude().Matches(File.ReadAllText(path)))
            {
                var header = Path.Combine(Path.GetDirectoryName(source)!, m.Groups[1].Value);
                if (File.Exists(header)) pending.Push(header);
            }
        }
        return seen;
    }

    private static (int Code, string Output) Compile(string outDir, string source)
    {
        var (code, stdout, stderr) = ChildProcess.Run("bash", [Script, outDir, source], CompileTimeout);
        return (code, stdout + stderr);
    }

    [GeneratedRegex(@"^\.(?:visible\s+)?\.?entry\s+(\S+?)\s*\(?$", RegexOptions.Multiline)]
    private static partial Regex EntryLine();

    [GeneratedRegex(@"__global__\s+void\s+(?:__launch_bounds__\([^)]*\)\s+)?(\w+)\s*\(")]
    private static partial Regex KernelDefinition();

    [GeneratedRegex(@"^#include\s+""([^""]+)""", RegexOptions.Multiline)]
    private static partial Regex LocalInclude();
}
