using InferenceServer.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Sampling;

/// <summary>
/// Turns one decode step's logits [B, V] into next-token ids (and logprobs), one row per sequence, each with its own
/// <see cref="SamplingParams"/>, following the vLLM v1 sampler:
/// <list type="number">
/// <item>structured-output constraints: tokens a row's <see cref="ILogitsConstraint"/> does not allow → −inf;</item>
/// <item>raw logprobs = log_softmax(logits) when any row asked for logprobs (vLLM's default raw_logprobs mode:
/// reported logprobs ignore penalties, bias, temperature and truncation);</item>
/// <item>min_tokens masking (EOS and stop ids → −inf) and logit_bias;</item>
/// <item>repetition, frequency and presence penalties;</item>
/// <item>greedy rows: argmax of the processed logits;</item>
/// <item>sampled rows: temperature → min-p → top-k/top-p → exponential race (seeded rows use their own generator).</item>
/// </list>
/// All work stays on the logits' device as batched ops; stages no row uses are skipped (an all-greedy batch
/// without penalties/bias/min_tokens is a single argmax); the only device→host transfer is the final readback.
/// Not thread-safe: one sampler per engine loop.
/// </summary>
public sealed class Sampler : IDisposable
{
    private readonly IReadOnlyCollection<int> _eosTokenIds;
    private readonly long? _sharedSeed;
    private readonly Kernels.NativeKernels? _kernels;
    private torch.Generator? _sharedGenerator;
    private bool _seededDeviceDefault;

    /// <param name="eosTokenIds">The model's EOS id(s) (generation_config may list several); masked by min_tokens.</param>
    /// <param name="sharedSeed">Seed for the stream shared by unseeded rows (tests); null = libtorch's default generator.</param>
    /// <param name="kernels">The native kernels (CUDA), for <see cref="NativeArgmax"/>; null: libtorch's argmax.</param>
    public Sampler(IReadOnlyCollection<int> eosTokenIds, long? sharedSeed = null, Kernels.NativeKernels? kernels = null)
    {
        _eosTokenIds = eosTokenIds.ToArray();
        _sharedSeed = sharedSeed;
        _kernels = kernels;
    }

    /// <summary>
    /// Whether greedy rows on CUDA take the native argmax (many blocks per row) instead of libtorch's, which reduces
    /// each row in one block; INFERENCE_NATIVE_ARGMAX=0 takes libtorch's, for comparisons.
    /// </summary>
    public static readonly bool NativeArgmax = Environment.GetEnvironmentVariable("INFERENCE_NATIVE_ARGMAX") != "0";

    /// <summary>[B] int64: each row's argmax, from the native kernel for CUDA logits where <see cref="NativeArgmax"/>.</summary>
    private Tensor Argmax(Tensor logits) =>
        NativeArgmax && _kernels is not null && logits.device.type == DeviceType.CUDA && logits.stride(1) == 1
            ? _kernels.ArgmaxRows(logits)
            : logits.argmax(-1);

    /// <summary>Samples the next token of every row.</summary>
    /// <param name="logits">[B, V] logits (float32; other float types are converted), on CPU or CUDA.</param>
    /// <param name="rows">B inputs, row i describing logits row i.</param>
    public SampleOutput[] Sample(Tensor logits, IReadOnlyList<SequenceSamplingInput> rows)
    {
        using var samples = SampleOnDevice(logits, rows);
        return samples.Read();
    }

    /// <summary>
    /// Samples every row with all work queued on the logits' device and nothing read back yet: the engine feeds the
    /// ids to the next step and reads them while that step runs.
    /// </summary>
    public DeviceSamples SampleOnDevice(Tensor logits, IReadOnlyList<SequenceSamplingInput> rows)
    {
        CheckShape(logits, rows);
        using var scope = torch.NewDisposeScope();
        var plan = SamplingBatchPlan.Build(rows, (int)logits.shape[1], _eosTokenIds);
        logits = Constrain(logits, plan);

        var rawLogprobs = plan.AnyLogprobs ? logits.to_type(ScalarType.Float32).log_softmax(-1) : null;   // [B, V]

        Tensor tokenIds;                                                                              // [B] int64
        if (rows.Count == 0)
        {
            tokenIds = empty(0, ScalarType.Int64, logits.device);
        }
        else if (plan.AllGreedy && !plan.NeedsLogitProcessing)
        {
            tokenIds = Argmax(logits);
        }
        else
        {
            var rowTable = RowParameterColumns.ToDevice(plan.RowTable, plan.BatchSize, logits.device);   // [B, 8]
            var processed = Process(logits, plan, rows, rowTable);
            tokenIds = plan.AllGreedy ? Argmax(processed) : SampleMixed(processed, plan, rows, rowTable);
        }
        var packed = SampleReadback.Pack(tokenIds, rawLogprobs, plan);
        // Owned by the samples, whatever dispose scope the caller is in.
        return new DeviceSamples(tokenIds.DetachFromDisposeScope(), packed.DetachFromDisposeScope(), plan, rows);
    }

    /// <summary>
    /// Samples of the shape <see cref="SampleOnDevice"/> would return for <paramref name="rows"/>, with nothing drawn:
    /// a tensor-parallel rank other than the sampling one receives its tokens into them (<see cref="DeviceSamples.Broadcast"/>).
    /// </summary>
    public DeviceSamples Expect(IReadOnlyList<SequenceSamplingInput> rows, int vocabSize, Device device)
    {
        var plan = SamplingBatchPlan.Build(rows, vocabSize, _eosTokenIds);
        var ids = zeros([rows.Count], ScalarType.Int64, device);                                     // [B]
        var packed = plan.AnyLogprobs ? zeros([rows.Count, 3 + 2 * plan.MaxTopLogprobs], ScalarType.Float64, device) : ids.view(-1);
        // Owned by the samples, whatever dispose scope the caller is in.
        return new DeviceSamples(ids.DetachFromDisposeScope(), packed.DetachFromDisposeScope(), plan, rows);
    }

    /// <summary>
    /// min_tokens masking, logit_bias and penalties: the stages before the greedy/sampled split.
    /// Returns a new float32 [B, V] tensor (the input is untouched). Public so the stage can be checked directly.
    /// </summary>
    public Tensor ProcessLogits(Tensor logits, IReadOnlyList<SequenceSamplingInput> rows)
    {
        CheckShape(logits, rows);
        using var scope = torch.NewDisposeScope();
        var plan = SamplingBatchPlan.Build(rows, (int)logits.shape[1], _eosTokenIds);
        var rowTable = RowParameterColumns.ToDevice(plan.RowTable, plan.BatchSize, logits.device);
        return Process(Constrain(logits, plan), plan, rows, rowTable).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The logits a sampled row draws from: processed, divided by temperature, with min-p/top-k/top-p
    /// exclusions at −inf. Greedy rows come back processed but untruncated. For tests.
    /// </summary>
    internal Tensor SamplingLogits(Tensor logits, IReadOnlyList<SequenceSamplingInput> rows)
    {
        CheckShape(logits, rows);
        using var scope = torch.NewDisposeScope();
        var plan = SamplingBatchPlan.Build(rows, (int)logits.shape[1], _eosTokenIds);
        var rowTable = RowParameterColumns.ToDevice(plan.RowTable, plan.BatchSize, logits.device);
        var processed = Process(Constrain(logits, plan), plan, rows, rowTable);
        return TemperatureAndTruncation.Apply(processed, plan, rowTable).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        _sharedGenerator?.Dispose();
        _sharedGenerator = null;
    }

    /// <summary>The logits with every row's disallowed tokens at −inf (a new tensor), or the same logits when no row is constrained.</summary>
    private static Tensor Constrain(Tensor logits, SamplingBatchPlan plan) =>
        plan.ConstraintBits is { } bits ? ConstraintMask.Apply(logits, bits, plan.ConstraintWords) : logits;

    private static Tensor Process(Tensor logits, SamplingBatchPlan plan, IReadOnlyList<SequenceSamplingInput> rows, Tensor rowTable)
    {
        // A private contiguous float32 copy: the stages below work in place and view it flat.
        var work = logits.to_type(ScalarType.Float32, copy: true).contiguous();                   // [B, V]
        MinTokensAndLogitBias.Apply(work, plan);
        return Penalties.Apply(work, plan, rows, rowTable);
    }

    private Tensor SampleMixed(Tensor processed, SamplingBatchPlan plan, IReadOnlyList<SequenceSamplingInput> rows, Tensor rowTable)
    {
        // Greedy argmax first: the stages below modify `processed` in place.
        var greedy = plan.AnyGreedy ? Argmax(processed) : null;                                    // [B]
        var samplingLogits = TemperatureAndTruncation.Apply(processed, plan, rowTable);
        var sampled = ExponentialRace.Sample(samplingLogits, rows, SharedGenerator(processed.device)); // [B]
        if (greedy is null)
            return sampled;
        // The column holds exactly 1 or 0; compared with a kept-alive scalar (see Scalars: a literal's temporary Scalar can be freed mid-op).
        var isGreedy = RowParameterColumns.Column(rowTable, RowParameterColumns.IsGreedy).squeeze(1).gt(Scalars.ZeroF);
        return torch.where(isGreedy, greedy, sampled);
    }

    /// <summary>
    /// The stream for unseeded rows. With a shared seed: a seeded CPU generator on CPU; on CUDA the device's default
    /// generator is seeded once instead (TorchSharp cannot create CUDA generators, see <see cref="SequenceRandomState"/>).
    /// </summary>
    private torch.Generator? SharedGenerator(Device device)
    {
        if (_sharedSeed is not long seed)
            return null;
        if (device.type == DeviceType.CPU)
            return _sharedGenerator ??= new torch.Generator(unchecked((ulong)seed), torch.CPU);
        if (!_seededDeviceDefault)
        {
            torch.cuda.manual_seed_all(seed);
            _seededDeviceDefault = true;
        }
        return null;
    }

    private static void CheckShape(Tensor logits, IReadOnlyList<SequenceSamplingInput> rows)
    {
        if (logits.dim() != 2)
            throw new ArgumentException($"logits must be [B, V], got [{string.Join(", ", logits.shape)}].", nameof(logits));
        if (logits.shape[0] != rows.Count)
            throw new ArgumentException($"logits have {logits.shape[0]} rows but {rows.Count} inputs were given.", nameof(rows));
    }
}
