using InferenceServer.Quant.Formats;
using System.Globalization;
using InferenceServer.Engine.Models.Quantization;

namespace InferenceServer.Quant.LutGemm;

/// <summary>
/// <c>--quantization lutgemm</c> settings, read from <see cref="QuantMethodOptions.Values"/> (the CLI's flag names
/// without dashes): <c>--weight-bits</c> 1–4 (default 4), <c>--group-size</c> (default 128), <c>--bcq-init</c>
/// uniform|greedy (default greedy) and <c>--bcq-iterations</c> (default 0 for uniform, which keeps it exactly
/// round-to-nearest, and <see cref="DefaultGreedyIterations"/> for greedy), and <c>--lutgemm-kernel</c> lut|dequant
/// (default lut; dequant runs the dequantize-then-GEMM baseline on CUDA, for comparisons).
/// </summary>
public sealed record LutGemmOptions
{
    public const string BitsKey = "weight-bits";
    public const string GroupSizeKey = "group-size";
    public const string InitKey = "bcq-init";
    public const string IterationsKey = "bcq-iterations";
    public const string KernelKey = "lutgemm-kernel";
    public const int DefaultBits = 4;
    public const int DefaultGroupSize = 128;
    /// <summary>Refinement rounds for greedy; most groups stop earlier, when no sign changes.</summary>
    public const int DefaultGreedyIterations = 30;

    public int Bits { get; init; } = DefaultBits;
    public int GroupSize { get; init; } = DefaultGroupSize;
    public BcqInit Init { get; init; } = BcqInit.Greedy;
    /// <summary>Alternating-refinement rounds; null takes the init's default.</summary>
    public int? Iterations { get; init; }
    /// <summary>The CUDA kernel: LUT-GEMM, or the dequantize-then-GEMM baseline.</summary>
    public LutGemmKernelChoice Kernel { get; init; } = LutGemmKernelChoice.Lut;

    public int RefinementRounds => Iterations ?? (Init == BcqInit.Uniform ? 0 : DefaultGreedyIterations);

    public static LutGemmOptions Parse(QuantMethodOptions options)
    {
        var v = options.Values;
        var o = new LutGemmOptions();
        if (Get(v, BitsKey) is { } b)
            o = o with { Bits = Int(BitsKey, b, 1, BcqWeights.MaxBits, "an integer from 1 to 4") };
        if (Get(v, GroupSizeKey) is { } g)
        {
            int size = Int(GroupSizeKey, g, BcqWeights.ChunkSize, int.MaxValue, $"a positive multiple of {BcqWeights.ChunkSize}");
            if (size % BcqWeights.ChunkSize != 0)
                throw new ArgumentException($"--{GroupSizeKey} {g}: lutgemm needs a positive multiple of {BcqWeights.ChunkSize} (one lookup table covers {BcqWeights.ChunkSize} input channels).");
            o = o with { GroupSize = size };
        }
        if (Get(v, InitKey) is { } init)
            o = o with
            {
                Init = init.ToLowerInvariant() switch
                {
                    "uniform" => BcqInit.Uniform,
                    "greedy" => BcqInit.Greedy,
                    _ => throw new ArgumentException($"--{InitKey} {init}: expected uniform or greedy."),
                },
            };
        if (Get(v, KernelKey) is { } kernel)
            o = o with
            {
                Kernel = kernel.ToLowerInvariant() switch
                {
                    "lut" => LutGemmKernelChoice.Lut,
                    "dequant" => LutGemmKernelChoice.Dequant,
                    _ => throw new ArgumentException($"--{KernelKey} {kernel}: expected lut or dequant."),
                },
            };
        if (Get(v, IterationsKey) is { } it)
            o = o with { Iterations = Int(IterationsKey, it, 0, 10_000, "an integer from 0 to 10000") };
        return o;
    }

    private static string? Get(IReadOnlyDictionary<string, string> v, string key) =>
        v.TryGetValue(key, out var s) && s is not (null or "") ? s : null;

    private static int Int(string key, string value, int min, int max, string expected) =>
        int.TryParse(value, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n : throw new ArgumentException($"--{key} {value}: lutgemm expects {expected}.");
}

/// <summary>
/// How a CUDA lutgemm layer multiplies: <see cref="Lut"/> reads the packed weights with the LUT-GEMM kernels (tables
/// for few rows, tensor cores for many); <see cref="Dequant"/> dequantizes them to a temporary dense weight on every
/// call and runs cuBLAS, the baseline the paper compares against. The CPU always runs its LUT-GEMM.
/// </summary>
public enum LutGemmKernelChoice { Lut, Dequant }
