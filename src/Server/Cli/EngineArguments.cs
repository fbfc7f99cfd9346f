using System.CommandLine;

namespace InferenceServer.Server.Cli;

/// <summary>The model and engine flags shared by the verbs (vLLM's names), in groups: each verb lists only the groups it uses.</summary>
public sealed class EngineArguments
{
    public Option<string?> Model { get; } = new("--model") { Description = "Hugging Face checkpoint folder (config.json, safetensors, tokenizer files). Default: the embedded tiny-llama." };
    public Option<string> Device { get; } = new("--device") { Description = "auto, cpu, cuda or cuda:N. auto uses CUDA when a CUDA libtorch is usable.", DefaultValueFactory = _ => "auto" };
    public Option<string?> Dtype { get; } = new("--dtype") { Description = "auto, float32, bfloat16 or float16. auto: float32 on CPU, bfloat16 on CUDA." };
    public Option<string?> LibTorch { get; } = new("--libtorch") { Description = "Folder of a CUDA build of libtorch (e.g. PyTorch's torch/lib); also INFERENCE_LIBTORCH." };
    public Option<string> LoadFormat { get; } = new("--load-format") { Description = "auto (safetensors) or dummy (random weights from config.json alone).", DefaultValueFactory = _ => "auto" };
    public Option<string?> Quantization { get; } = new("--quantization", "-q") { Description = "Linear-layer quantization: none (default), smoothquant (smoothing + W8A8), w8a8 (INT8 weights and activations, no smoothing) zeroquant (group-wise INT4/INT8 weights, optional INT8 activations and LKD) or lutgemm (weight-only BCQ, 1-4 bits, served by LUT-GEMM)." };
    public Option<double?> SmoothQuantAlpha { get; } = new("--smoothquant-alpha") { Description = "SmoothQuant migration strength α in [0, 1]. Default: 0.5 for OPT, 0.85 for Llama/Mistral/Qwen2." };
    public Option<string?> ActScales { get; } = new("--act-scales") { Description = "W8A8 activation scales: dynamic (per token, default) or static (per tensor, from calibration)." };
    public Option<string?> CalibrationData { get; } = new("--calibration-data") { Description = "Text file for calibration, one sample per line. Default: the embedded calibration.txt." };
    public Option<int?> CalibrationSamples { get; } = new("--calibration-samples") { Description = "Calibration windows (default 512; 32 for zeroquant LKD), capped by what the text holds." };
    public Option<int?> CalibrationSeqLen { get; } = new("--calibration-seq-len") { Description = "Tokens per calibration window (default 512)." };
    public Option<int?> WeightBits { get; } = new("--weight-bits") { Description = "Weight bits of the weight-quantizing methods (zeroquant: 4 or 8; lutgemm: 1 to 4)." };
    public Option<int?> GroupSize { get; } = new("--group-size") { Description = "Input channels per weight-quantization group (zeroquant, lutgemm); must divide every linear layer's input size." };
    public Option<bool?> WeightSymmetric { get; } = new("--weight-symmetric") { Description = "zeroquant: symmetric weight groups (no zero point). Default: asymmetric with a zero point." };
    public Option<int?> ActBits { get; } = new("--act-bits") { Description = "zeroquant activations: 16 (unquantized, W4A16/W8A16; the default) or 8 (INT8 per token, dynamic)." };
    public Option<bool> MixedPrecision { get; } = new("--mixed-precision") { Description = "zeroquant W4/8-A8: INT8 weights in attention, --weight-bits (4) in the MLP, INT8 activations (unless --act-bits 16)." };
    public Option<string[]> QuantOverride { get; } = new("--quant-override") { Description = "zeroquant per-layer override PATTERN=SPEC (repeatable; later wins). PATTERN: a layer name, a name suffix (down_proj) or re:REGEX. SPEC: none, or bits=4|8,group=G,sym|asym,act=8|16.", AllowMultipleArgumentsPerToken = false };
    public Option<string?> QuantOverridesFile { get; } = new("--quant-overrides-file") { Description = "zeroquant per-layer overrides as JSON: {\"PATTERN\": \"none\" | {\"weight_bits\": 8, \"group_size\": 64, \"symmetric\": true, \"act_bits\": 8}}; --quant-override entries apply after it." };
    public Option<int?> LkdSteps { get; } = new("--lkd-steps") { Description = "zeroquant layer-by-layer distillation: optimizer steps per transformer block (0, the default: round to nearest)." };
    public Option<double?> LkdLr { get; } = new("--lkd-lr") { Description = "LKD: Adam learning rate (default 1e-4)." };
    public Option<int?> LkdBatchSize { get; } = new("--lkd-batch-size") { Description = "LKD: calibration windows per step (default 4)." };
    public Option<int?> LkdSeqLen { get; } = new("--lkd-seq-len") { Description = "LKD: tokens per calibration window (default 256); --calibration-samples sets the number of windows (LKD default 32)." };
    public Option<string?> BcqInit { get; } = new("--bcq-init") { Description = "lutgemm: uniform (round-to-nearest converted exactly to BCQ) or greedy (non-uniform BCQ with alternating refinement, default)." };
    public Option<int?> BcqIterations { get; } = new("--bcq-iterations") { Description = "lutgemm: rounds of alternating refinement (least-squares scales, then nearest codes). Default: 30 for greedy, 0 for uniform." };
    public Option<string?> LutGemmKernel { get; } = new("--lutgemm-kernel") { Description = "lutgemm on CUDA: lut (LUT-GEMM kernels, default) or dequant (dequantize to a temporary bf16 weight, then cuBLAS: the baseline, for comparisons)." };
    public Option<int?> MaxModelLen { get; } = new("--max-model-len") { Description = "Maximum prompt + output tokens per request. Default: the model's max_position_embeddings." };
    public Option<string?> Tokenizer { get; } = new("--tokenizer") { Description = "Folder with the tokenizer files. Default: --model." };
    public Option<bool> SkipTokenizerInit { get; } = new("--skip-tokenizer-init") { Description = "Serve on token ids only (no tokenizer files needed; text prompts are refused)." };
    public Option<string> LogLevel { get; } = LogLevels.CreateOption();
    public Option<long> Seed { get; } = new("--seed") { Description = "Seed for dummy weights and unseeded sampling.", DefaultValueFactory = _ => 0 };
    public Option<int?> TensorParallelSize { get; } = new("--tensor-parallel-size", "-tp") { Description = "Ranks that share every layer (heads, MLP columns and vocabulary split among them). Default 1. CPU: in-process ranks on threads; CUDA: one rank per GPU, talking through NCCL (docs/tensor-parallelism.md)." };
    public Option<string?> DistributedExecutorBackend { get; } = CreateBackendOption();

    /// <summary>Every flag: serve and bench.</summary>
    public IEnumerable<Option> All => [.. Loading, .. Quantizing, .. Serving];

    /// <summary>Where the model comes from and where it runs: every verb that loads one.</summary>
    public IEnumerable<Option> Loading => [Model, Device, Dtype, LibTorch, LoadFormat, Tokenizer, Seed, LogLevel];

    /// <summary>Loading without the dummy-weight flags: quantize writes real weights only.</summary>
    public IEnumerable<Option> LoadingRealWeights => Loading.Except([LoadFormat, Seed]);

    /// <summary>How the linear layers are quantized (and calibrated): serve, bench, perplexity, quantize.</summary>
    public IEnumerable<Option> Quantizing => [Quantization, SmoothQuantAlpha, ActScales, CalibrationData, CalibrationSamples, CalibrationSeqLen, WeightBits, GroupSize,
        WeightSymmetric, ActBits, MixedPrecision, QuantOverride, QuantOverridesFile, LkdSteps, LkdLr, LkdBatchSize, LkdSeqLen, BcqInit, BcqIterations, LutGemmKernel];

    /// <summary>Request-serving limits and token-id-only serving: serve and bench.</summary>
    public IEnumerable<Option> Serving => [MaxModelLen, SkipTokenizerInit, TensorParallelSize, DistributedExecutorBackend];

    private static Option<string?> CreateBackendOption()
    {
        var o = new Option<string?>("--distributed-executor-backend")
        {
            Description = "uni: one model runner in the engine's thread (the default at --tensor-parallel-size 1); mp: the multi-rank " +
                          "executor, one runner per rank, each GPU's on a worker thread of this process (the default above 1; at size 1 it runs the " +
                          "tensor-parallel code path, collectives included, on one device).",
        };
        o.AcceptOnlyFromAmong("uni", "mp");
        return o;
    }
}
