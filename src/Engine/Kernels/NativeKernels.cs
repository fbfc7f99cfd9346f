using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Kernels;

/// <summary>
/// The one binding to the project's native CUDA library (src/Kernels, libinference_kernels.so). Model code never
/// calls native functions directly. The library is found through INFERENCE_KERNELS (a file path), beside the app,
/// or in build/kernels/ above the working directory; without it the engine keeps its portable TorchSharp paths.
/// </summary>
public sealed unsafe partial class NativeKernels
{
    public const string EnvVar = "INFERENCE_KERNELS";
    public const string FileName = "libinference_kernels.so";

    /// <summary>Largest head_dim the paged and flash attention kernels take (it must also be a multiple of 8).</summary>
    public const int MaxHeadDim = 256;

    /// <summary>Whether the attention kernels take this head_dim: they move 8-element vectors, at most <see cref="MaxHeadDim"/>.</summary>
    public static bool TakesHeadDim(int headDim) => headDim % 8 == 0 && headDim <= MaxHeadDim;

    private static readonly Lazy<(NativeKernels? Kernels, string Why)> Shared = new(Load);

    private readonly delegate* unmanaged<IntPtr> _lastError;
    private readonly delegate* unmanaged<long*, long*, int> _memGetInfo;
    private readonly delegate* unmanaged<long*, long*, int, int> _memoryAllocated;
    private readonly delegate* unmanaged<int> _emptyCache;
    private readonly delegate* unmanaged<int, int> _profilerRange;
    private readonly delegate* unmanaged<IntPtr, IntPtr, IntPtr, double, int> _rmsNorm;
    private readonly delegate* unmanaged<IntPtr, IntPtr, int> _siluMul;
    private readonly delegate* unmanaged<IntPtr, IntPtr, IntPtr, IntPtr, double, int> _addRmsNorm;
    private readonly delegate* unmanaged<IntPtr, IntPtr, IntPtr, IntPtr, IntPtr, double, double, int> _addRmsNormQuant;
    private readonly delegate* unmanaged<IntPtr, IntPtr, IntPtr, IntPtr, int, int, int, IntPtr, IntPtr, IntPtr, int> _rotaryQkCache;
    private readonly delegate* unmanaged<IntPtr, IntPtr, IntPtr, IntPtr, IntPtr, IntPtr, int> _int8Gemm;
    private readonly delegate* unmanaged<IntPtr, IntPtr, IntPtr, IntPtr, int> _skinnyLinear;
    private readonly delegate* unmanaged<int, int> _useWgmma;
    private readonly delegate* unmanaged<IntPtr, IntPtr, IntPtr, IntPtr, double, double, int> _rmsNormQuant;
    private readonly delegate* unmanaged<IntPtr, IntPtr, IntPtr, double, int> _siluMulQuant;
    private readonly delegate* unmanaged<IntPtr, IntPtr, IntPtr, double, int> _quantizeRows;
    private readonly delegate* unmanaged<IntPtr> _graphNew;
    private readonly delegate* unmanaged<IntPtr, IntPtr, int> _graphBegin;
    private readonly delegate* unmanaged<IntPtr, int> _graphEnd;
    private readonly delegate* unmanaged<IntPtr, int> _graphReplay;
    private readonly delegate* unmanaged<IntPtr, void> _graphDelete;
    private readonly delegate* unmanaged<IntPtr> _eventNew;
    private readonly delegate* unmanaged<IntPtr, int> _eventRecord;
    private readonly delegate* unmanaged<IntPtr, int> _eventSynchronize;
    private readonly delegate* unmanaged<IntPtr, void> _eventDelete;

    private readonly IntPtr _library;

    public string Path { get; }

    private NativeKernels(string path)
    {
        Path = path;
        var lib = _library = NativeLibrary.Load(path);
        IntPtr F(string name) => NativeLibrary.GetExport(lib, name);
        _lastError = (delegate* unmanaged<IntPtr>)F("ik_last_error");
        _memGetInfo = (delegate* unmanaged<long*, long*, int>)F("ik_mem_get_info");
        _memoryAllocated = (delegate* unmanaged<long*, long*, int, int>)F("ik_memory_allocated");
        _emptyCache = (delegate* unmanaged<int>)F("ik_empty_cache");
        _profilerRange = (delegate* unmanaged<int, int>)F("ik_profiler_range");
        _rmsNorm = (delegate* unmanaged<IntPtr, IntPtr, IntPtr, double, int>)F("ik_rms_norm");
        _siluMul = (delegate* unmanaged<IntPtr, IntPtr, int>)F("ik_silu_mul");
        _addRmsNorm = (delegate* unmanaged<IntPtr, IntPtr, IntPtr, IntPtr, double, int>)F("ik_add_rms_norm");
        _addRmsNormQuant = (delegate* unmanaged<IntPtr, IntPtr, IntPtr, IntPtr, IntPtr, double, double, int>)F("ik_add_rms_norm_quant");
        _rotaryQkCache = (delegate* unmanaged<IntPtr, IntPtr, IntPtr, IntPtr, int, int, int, IntPtr, IntPtr, IntPtr, int>)F("ik_rotary_qk_cache");
        _int8Gemm = (delegate* unmanaged<IntPtr, IntPtr, IntPtr, IntPtr, IntPtr, IntPtr, int>)F("ik_int8_gemm");
        _skinnyLinear = (delegate* unmanaged<IntPtr, IntPtr, IntPtr, IntPtr, int>)F("ik_skinny_linear");
        _useWgmma = (delegate* unmanaged<int, int>)F("ik_int8_gemm_use_wgmma");
        _rmsNormQuant = (delegate* unmanaged<IntPtr, IntPtr, IntPtr, IntPtr, double, double, int>)F("ik_rms_norm_quant");
        _siluMulQuant = (delegate* unmanaged<IntPtr, IntPtr, IntPtr, double, int>)F("ik_silu_mul_quant");
        _quantizeRows = (delegate* unmanaged<IntPtr, IntPtr, IntPtr, double, int>)F("ik_quantize_rows");
        _graphNew = (delegate* unmanaged<IntPtr>)F("ik_graph_new");
        _graphBegin = (delegate* unmanaged<IntPtr, IntPtr, int>)F("ik_graph_capture_begin");
        _graphEnd = (delegate* unmanaged<IntPtr, int>)F("ik_graph_capture_end");
        _graphReplay = (delegate* unmanaged<IntPtr, int>)F("ik_graph_replay");
        _graphDelete = (delegate* unmanaged<IntPtr, void>)F("ik_graph_delete");
        _eventNew = (delegate* unmanaged<IntPtr>)F("ik_event_new");
        _eventRecord = (delegate* unmanaged<IntPtr, int>)F("ik_event_record");
        _eventSynchronize = (delegate* unmanaged<IntPtr, int>)F("ik_event_synchronize");
        _eventDelete = (delegate* unmanaged<IntPtr, void>)F("ik_event_delete");
    }

    /// <summary>The loaded library, or null with the reason (for one clear log line).</summary>
    public static NativeKernels? TryGet(out string why)
    {
        var (k, w) = Shared.Value;
        why = w;
        return k;
    }

    private static (NativeKernels?, string) Load()
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable(EnvVar) is { Length: > 0 } env) candidates.Add(env);
        candidates.Add(System.IO.Path.Combine(AppContext.BaseDirectory, FileName));
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir != null; dir = dir.Parent)
            candidates.Add(System.IO.Path.Combine(dir.FullName, "build", "kernels", FileName));
        foreach (var c in candidates.Where(File.Exists))
        {
            try
            {
                return (new NativeKernels(c), $"native kernels from {c}");
            }
            catch (Exception e)
            {
                return (null, $"{c} failed to load: {e.Message}");
            }
        }
        return (null, $"{FileName} not found (set {EnvVar} or build src/Kernels with CMake)");
    }

    /// <summary>
    /// The address of export <paramref name="name"/>, looked up on first use and kept in <paramref name="slot"/>: the
    /// kernel families in the other parts of this class bind their functions this way, so a library built from older
    /// sources still loads and only a call into a missing function fails, naming it.
    /// </summary>
    private IntPtr Export(ref IntPtr slot, string name)
    {
        if (slot != IntPtr.Zero) return slot;
        if (!NativeLibrary.TryGetExport(_library, name, out var address))
            throw new InvalidOperationException($"{Path} has no function {name}: it was built from older sources; rebuild src/Kernels.");
        return slot = address;
    }

    private void Check(int rc, string what)
    {
        if (rc != 0) throw new InvalidOperationException($"{what}: {Marshal.PtrToStringUTF8(_lastError())}");
    }

    /// <summary>RMSNorm of x [T,H] scaled by w [H], into a new tensor (one launch instead of ~6).</summary>
    public Tensor RmsNorm(Tensor x, Tensor weight, double eps)
    {
        var output = empty_like(x);
        Check(_rmsNorm(output.Handle, x.Handle, weight.Handle, eps), "rms_norm");
        return output;
    }

    /// <summary>residual [T,H] += delta in place, then RMSNorm(residual)·w into a new tensor (one launch for the add and the norm).</summary>
    public Tensor AddRmsNorm(Tensor residual, Tensor delta, Tensor weight, double eps)
    {
        var output = empty_like(residual);
        Check(_addRmsNorm(output.Handle, residual.Handle, delta.Handle, weight.Handle, eps), "add_rms_norm");
        return output;
    }

    /// <summary>residual += delta in place, then INT8 [T, H] and per-token scales [T] of RMSNorm(residual)·w, in one pass.</summary>
    public (Tensor Q, Tensor Scale) AddRmsNormQuant(Tensor residual, Tensor delta, Tensor weight, double eps, float? staticScale)
    {
        var (q, s) = QuantizedLike(residual.shape[0], residual.shape[1], residual.device);
        Check(_addRmsNormQuant(q.Handle, s.Handle, residual.Handle, delta.Handle, weight.Handle, eps, staticScale ?? 0), "add_rms_norm_quant");
        return (q, s);
    }

    /// <summary>
    /// Rotates the q and k heads of qkv [T, (H + 2·KV)·D] in place and stores each token's rotated keys and values at
    /// slots [T] (int64) of the layer's caches [num_slots, KV, D].
    /// </summary>
    public void RotaryQkCache(Tensor qkv, Tensor positions, Tensor cos, Tensor sin, int heads, int kvHeads, int headDim, Tensor kCache, Tensor vCache, Tensor slots) =>
        Check(_rotaryQkCache(qkv.Handle, positions.Handle, cos.Handle, sin.Handle, heads, kvHeads, headDim, kCache.Handle, vCache.Handle, slots.Handle), "rotary_cache");

    /// <summary>silu(gate) · up for gate_up [T, 2I] → [T, I].</summary>
    public Tensor SiluMul(Tensor gateUp)
    {
        var output = empty([gateUp.shape[0], gateUp.shape[1] / 2], gateUp.dtype, gateUp.device);
        Check(_siluMul(output.Handle, gateUp.Handle), "silu_mul");
        return output;
    }

    /// <summary>Most rows the skinny (decode-step) GEMMs take; larger batches go to tiled GEMMs.</summary>
    public const int SkinnyMaxRows = 64;

    /// <summary>
    /// Most rows for which INT8 GEMMs stay below the tiled kernels on Hopper (cuBLASLt for 33–64, the TMA skinny kernel
    /// for 65–128; kept in step with int8_gemm_cublaslt_rows in int8_gemm.cu).
    /// </summary>
    public const int Int8CublasLtMaxRows = 128;

    /// <summary>
    /// y [M, N] = (xq [M, K] · wq [N, K]ᵀ, exact int32) · xScale[m] · wScale[n] + bias[n], in <paramref name="outDtype"/>
    /// (the serving dtype, which bias shares). Dequantization happens in the GEMM's epilogue; for 33–64 rows on Hopper
    /// (N a multiple of 8) cuBLASLt computes the sums and the epilogue runs as a second pass (docs/smoothquant.md has
    /// the kernel for each row range).
    /// </summary>
    public Tensor Int8Gemm(Tensor xq, Tensor xScale, Tensor wq, Tensor wScale, Tensor? bias, ScalarType outDtype)
    {
        var output = empty([xq.shape[0], wq.shape[0]], outDtype, xq.device);
        Check(_int8Gemm(output.Handle, xq.Handle, xScale.Handle, wq.Handle, wScale.Handle, bias?.Handle ?? IntPtr.Zero), "int8_gemm");
        return output;
    }

    /// <summary>
    /// Chooses the kernel for INT8 GEMMs above the skinny and cuBLASLt ranges: Hopper wgmma (the default where the device
    /// and the build allow it) or mma.sync. Returns whether wgmma was in use before; for tests and benchmarks comparing the two.
    /// </summary>
    public bool UseWgmma(bool on) => _useWgmma(on ? 1 : 0) != 0;

    /// <summary>x [M, K] · w [N, K]ᵀ + bias for M ≤ <see cref="SkinnyMaxRows"/> in float16/bfloat16, reading w once at full bandwidth.</summary>
    public Tensor SkinnyLinear(Tensor x, Tensor weight, Tensor? bias)
    {
        var output = empty([x.shape[0], weight.shape[0]], x.dtype, x.device);
        Check(_skinnyLinear(output.Handle, x.Handle, weight.Handle, bias?.Handle ?? IntPtr.Zero), "skinny_linear");
        return output;
    }

    /// <summary>INT8 [T, H] and per-token scales [T] of RMSNorm(x)·w, in one pass (staticScale: one calibrated scale, or null).</summary>
    public (Tensor Q, Tensor Scale) RmsNormQuant(Tensor x, Tensor weight, double eps, float? staticScale)
    {
        var (q, s) = QuantizedLike(x.shape[0], x.shape[1], x.device);
        Check(_rmsNormQuant(q.Handle, s.Handle, x.Handle, weight.Handle, eps, staticScale ?? 0), "rms_norm_quant");
        return (q, s);
    }

    /// <summary>INT8 [T, I] and scales [T] of silu(gate)·up for gate_up [T, 2I], in one pass.</summary>
    public (Tensor Q, Tensor Scale) SiluMulQuant(Tensor gateUp, float? staticScale)
    {
        var (q, s) = QuantizedLike(gateUp.shape[0], gateUp.shape[1] / 2, gateUp.device);
        Check(_siluMulQuant(q.Handle, s.Handle, gateUp.Handle, staticScale ?? 0), "silu_mul_quant");
        return (q, s);
    }

    /// <summary>INT8 [T, K] and scales [T] of x [T, K].</summary>
    public (Tensor Q, Tensor Scale) QuantizeRows(Tensor x, float? staticScale)
    {
        var (q, s) = QuantizedLike(x.shape[0], x.shape[1], x.device);
        Check(_quantizeRows(q.Handle, s.Handle, x.Handle, staticScale ?? 0), "quantize_rows");
        return (q, s);
    }

    private static (Tensor, Tensor) QuantizedLike(long rows, long cols, Device device) =>
        (empty([rows, cols], ScalarType.Int8, device), empty([rows], ScalarType.Float32, device));

    public (long Free, long Total) MemGetInfo()
    {
        long f, t;
        Check(_memGetInfo(&f, &t), "cudaMemGetInfo");
        return (f, t);
    }

    /// <summary>Bytes the caching allocator has handed out now, and the peak since the last reset (resetPeak starts a new window).</summary>
    public (long Current, long Peak) MemoryAllocated(bool resetPeak = false)
    {
        long c, p;
        Check(_memoryAllocated(&c, &p, resetPeak ? 1 : 0), "memory stats");
        return (c, p);
    }

    /// <summary>Returns the allocator's cached, unused memory to the driver (so <see cref="MemGetInfo"/> counts it as free).</summary>
    public void EmptyCache() => Check(_emptyCache(), "empty_cache");

    /// <summary>Starts (or stops) the part of the run an attached profiler records (cudaProfilerStart/Stop).</summary>
    public void ProfilerRange(bool start) => Check(_profilerRange(start ? 1 : 0), "cudaProfilerStart/Stop");

    public IntPtr GraphNew() => _graphNew();
    public void GraphCaptureBegin(IntPtr graph, IntPtr poolSource) => Check(_graphBegin(graph, poolSource), "CUDA graph capture_begin");
    public void GraphCaptureEnd(IntPtr graph) => Check(_graphEnd(graph), "CUDA graph capture_end");
    public void GraphReplay(IntPtr graph) => Check(_graphReplay(graph), "CUDA graph replay");
    public void GraphDelete(IntPtr graph) => _graphDelete(graph);

    /// <summary>A CUDA event (no timing); null pointers are never returned.</summary>
    public IntPtr EventNew()
    {
        var e = _eventNew();
        if (e == IntPtr.Zero) throw new InvalidOperationException($"CUDA event create: {Marshal.PtrToStringUTF8(_lastError())}");
        return e;
    }

    /// <summary>Marks the current point of the current stream's queued work.</summary>
    public void EventRecord(IntPtr e) => Check(_eventRecord(e), "CUDA event record");

    /// <summary>Waits for the work queued before the last <see cref="EventRecord"/> to finish.</summary>
    public void EventSynchronize(IntPtr e) => Check(_eventSynchronize(e), "CUDA event synchronize");

    public void EventDelete(IntPtr e) => _eventDelete(e);
}
