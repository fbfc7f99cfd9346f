using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Runtime;

/// <summary>
/// Picks the device before anything else touches TorchSharp. The build ships the CPU libtorch; for CUDA the user
/// names a CUDA libtorch folder (<c>--libtorch DIR</c> or <c>INFERENCE_LIBTORCH</c>; PyTorch's <c>torch/lib</c> works),
/// whose libraries are loaded by full path first so that TorchSharp binds to them instead of the CPU copies.
/// </summary>
public static class TorchRuntime
{
    public const string LibTorchEnvVar = "INFERENCE_LIBTORCH";

    private static readonly string[] CudaLibraries = ["libc10.so", "libc10_cuda.so", "libtorch_cpu.so", "libtorch_cuda.so", "libtorch.so"];

    /// <summary>Resolves "auto" | "cpu" | "cuda[:N]" to a device, loading CUDA libtorch when needed.</summary>
    /// <param name="log">Receives one line saying what was chosen and why.</param>
    /// <param name="debug">Receives the details of a failed CUDA start (libtorch's message in full), when wanted.</param>
    public static Device Initialize(string requested, string? libtorchDir, Action<string> log, Action<string>? debug = null)
    {
        requested = requested.Trim().ToLowerInvariant();
        if (requested == "cpu")
        {
            log($"device: cpu ({torch.get_num_threads()} threads)");
            return CPU;
        }
        if (requested != "auto" && !requested.StartsWith("cuda", StringComparison.Ordinal))
            throw new ArgumentException($"--device {requested}: expected auto, cpu, cuda or cuda:N.");
        libtorchDir ??= Environment.GetEnvironmentVariable(LibTorchEnvVar);
        string? problem = null;
        try
        {
            if (!string.IsNullOrEmpty(libtorchDir)) PreloadCudaLibTorch(libtorchDir);
            torch.InitializeDeviceType(DeviceType.CUDA);
            if (!torch.cuda.is_available()) problem = "libtorch loaded but reports no CUDA device";
        }
        catch (Exception e) when (e is not ArgumentException)
        {
            problem = Reason(e.Message);
            debug?.Invoke($"CUDA start failed: {e}");
        }
        if (problem is null)
        {
            var device = requested == "auto" ? torch.CUDA : torch.device(requested);
            log($"device: {device} ({torch.cuda.device_count()} CUDA device(s), libtorch from {libtorchDir ?? "the library path"})");
            return device;
        }
        var hint = $"Name a CUDA build of libtorch with --libtorch DIR or {LibTorchEnvVar} (for example the torch/lib folder of a CUDA PyTorch install).";
        if (requested != "auto")
            throw new InvalidOperationException($"--device {requested} was asked for, but CUDA is not usable: {problem}. {hint}");
        // One short line: a CPU machine is a normal place to run, not an error (--log-level debug shows libtorch's message).
        log($"device: cpu (no usable CUDA; for a GPU pass --libtorch DIR or set {LibTorchEnvVar} to a CUDA libtorch)");
        return CPU;
    }

    /// <summary>
    /// libtorch's reason without the native trace TorchSharp appends ("... Trace from LoadNativeBackend:" and the
    /// loader's attempts): the first sentence is what a user can act on.
    /// </summary>
    private static string Reason(string message)
    {
        string line = message.Split('\n')[0];
        int trace = line.IndexOf(" Trace from", StringComparison.Ordinal);
        return (trace >= 0 ? line[..trace] : line).TrimEnd(' ', ';', ':', '.');
    }

    private static void PreloadCudaLibTorch(string dir)
    {
        if (!Directory.Exists(dir))
            throw new ArgumentException($"--libtorch {dir}: no such directory ({Path.GetFullPath(dir)}).");
        foreach (var name in CudaLibraries)
        {
            var path = Path.Combine(dir, name);
            if (File.Exists(path)) NativeLibrary.Load(path);
            else if (name is "libtorch_cuda.so")
                throw new ArgumentException($"--libtorch {dir}: {name} not found; this is not a CUDA build of libtorch.");
        }
    }

    /// <summary>The default serving dtype: float32 on CPU, bfloat16 on CUDA.</summary>
    public static ScalarType DefaultDtype(Device device) => device.type == DeviceType.CUDA ? ScalarType.BFloat16 : ScalarType.Float32;
}
