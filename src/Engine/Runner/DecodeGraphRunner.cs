using TorchSharp;
using InferenceServer.Engine.Attention;
using InferenceServer.Engine.Batching;
using InferenceServer.Engine.Kernels;
using InferenceServer.Engine.KvCache;
using InferenceServer.Engine.Models;
using InferenceServer.Engine.Runtime;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Runner;

/// <summary>
/// Decode steps replayed from CUDA graphs. An eager decode step of an 8B model launches hundreds of small ops at
/// ~13 µs each, more than the step's memory-bandwidth time; a graph replays them in one launch. One graph per
/// batch size in <see cref="Sizes"/>, all reading the same static inputs; a batch is padded up to the next size
/// with rows that write into a reserved scratch block and whose logits are dropped.
/// </summary>
public sealed class DecodeGraphRunner : IDisposable
{
    private readonly NativeKernels _kernels;
    private readonly ICausalLM _model;
    private readonly int _blockSize, _tableWidth, _scratchBlock;
    // Static inputs, max batch: token ids, positions and slots are the rows of one [3, max] int64 tensor, so a step
    // copies them from one host array in one transfer; lengths [max] int32 and tables [max, width] int32 beside them.
    private readonly Tensor _inputs, _tokens, _positions, _slots, _tables, _lens, _rows;
    private readonly long[] _hostInputs;
    private readonly int[] _hostLens;
    private readonly SortedDictionary<int, (IntPtr Graph, ForwardBatch Batch, Tensor Logits)> _graphs = new();

    public IReadOnlyCollection<int> Sizes => _graphs.Keys;
    public int MaxBatch => _graphs.Count == 0 ? 0 : _graphs.Keys.Max();

    /// <param name="maxContext">Longest context a sequence may have (fixes the block-table width).</param>
    /// <param name="scratchBlock">A KV block reserved for padding rows.</param>
    public DecodeGraphRunner(NativeKernels kernels, ICausalLM model, KvCachePool cache, IReadOnlyList<int> sizes, int maxContext, int scratchBlock)
    {
        _kernels = kernels;
        _model = model;
        _blockSize = cache.BlockSize;
        _tableWidth = (maxContext + _blockSize - 1) / _blockSize;
        _scratchBlock = scratchBlock;
        int max = sizes.Max();
        var dev = model.Device;
        _hostInputs = new long[3 * max];
        _hostLens = new int[max];
        _inputs = zeros([3, max], ScalarType.Int64, dev);
        (_tokens, _positions, _slots) = (_inputs.select(0, 0), _inputs.select(0, 1), _inputs.select(0, 2));
        // Fill values as kept-alive Scalars, not implicit temporaries (see Runtime.Scalars).
        using (var scratchSlot = ((long)scratchBlock * _blockSize).ToScalar())
        using (var scratchId = scratchBlock.ToScalar())
        {
            _slots.fill_(scratchSlot);
            _tables = full([max, _tableWidth], scratchId, ScalarType.Int32, dev);
        }
        _lens = ones(max, ScalarType.Int32, dev);
        _rows = Scalars.Arange(max, ScalarType.Int64, dev);
        IntPtr pool = IntPtr.Zero;
        int[] scratchTable = [scratchBlock];
        foreach (var b in sizes.OrderDescending())   // largest first: later graphs reuse its memory pool
        {
            var batch = new ForwardBatch
            {
                TokenIds = _tokens.narrow(0, 0, b),
                Positions = _positions.narrow(0, 0, b),
                SlotMapping = _slots.narrow(0, 0, b),
                Sequences = Enumerable.Range(0, b).Select(i => new SequenceSpan(i, 1, 1, scratchTable)).ToArray(),
                LogitsRows = _rows.narrow(0, 0, b),
                BlockSize = _blockSize,
                Device = dev,
                // The paged kernel reads the static tables and lengths that Prepare refills; the model keeps this.
                Attention = PagedAttentionMetadata.ForDecode(_tables.narrow(0, 0, b), _lens.narrow(0, 0, b)),
            };
            model.Forward(batch, cache).Dispose();     // warm-up: lazy initialisation must not happen during capture
            var graph = kernels.GraphNew();
            kernels.GraphCaptureBegin(graph, pool);
            Tensor logits;
            try
            {
                logits = model.Forward(batch, cache);
            }
            finally
            {
                kernels.GraphCaptureEnd(graph);
            }
            if (pool == IntPtr.Zero) pool = graph;
            _graphs[b] = (graph, batch, logits);
        }
    }

    // What the static block tables hold, per graph row: the block list last written there (the runner's persistent
    // list of that request) and how many of its entries; a step writes only the entries that are new.
    private IReadOnlyList<int>?[] _rowTable = [];
    private int[] _rowWritten = [];

    /// <summary>
    /// Writes a decode step's inputs into the graphs' static tensors (queued behind the device's earlier work);
    /// returns the graph size to replay, or 0 when the batch does not fit one (the caller runs eagerly).
    /// </summary>
    /// <param name="feed">Rows whose token is still on the device (their chunk holds a placeholder), or null.</param>
    public int Prepare(IReadOnlyList<SequenceChunk> chunks, PendingTokenFeed? feed = null)
    {
        int n = chunks.Count;
        if (n == 0 || n > MaxBatch) return 0;
        foreach (var c in chunks)
            if (c.Tokens.Count != 1 || c.BlockTable.Count > _tableWidth) return 0;
        int size = _graphs.Keys.First(k => k >= n), max = _hostLens.Length;
        if (_rowTable.Length == 0) (_rowTable, _rowWritten) = (new IReadOnlyList<int>?[max], new int[max]);
        List<long>? changedAt = null;
        List<int>? changedTo = null;
        for (int i = 0; i < size; i++)
        {
            // Padding rows embed token 0 at position 0 (the host array keeps earlier steps' values, placeholders
            // included), write into the scratch block and read one token of whatever their table row holds.
            if (i >= n)
            {
                _hostInputs[i] = 0;
                _hostInputs[max + i] = 0;
                _hostInputs[2 * max + i] = (long)_scratchBlock * _blockSize;
                _hostLens[i] = 1;
                continue;
            }
            var c = chunks[i];
            _hostInputs[i] = c.Tokens[0];
            _hostInputs[max + i] = c.StartPosition;
            _hostInputs[2 * max + i] = ForwardBatchBuilder.Slot(c.BlockTable, _blockSize, c.StartPosition);
            _hostLens[i] = c.StartPosition + 1;
            var table = c.BlockTable;
            for (int j = ReferenceEquals(_rowTable[i], table) ? _rowWritten[i] : 0; j < table.Count; j++)
            {
                (changedAt ??= []).Add((long)i * _tableWidth + j);
                (changedTo ??= []).Add(table[j]);
            }
            (_rowTable[i], _rowWritten[i]) = (table, table.Count);
        }
        using (var scope = NewDisposeScope())
        {
            // Non-blocking copies: the previous step may still be running (async scheduling).
            HostToDevice.CopyInto(_inputs, tensor(_hostInputs, [3, max]));
            HostToDevice.CopyInto(_lens, tensor(_hostLens));
            if (changedAt is not null)
                _tables.view(-1).index_copy_(0, HostToDevice.Copy(changedAt.ToArray(), _tables.device), HostToDevice.Copy(changedTo!.ToArray(), _tables.device));
            feed?.Apply(_tokens);
        }
        return size;
    }

    /// <summary>Replays the graph of <paramref name="size"/> rows over the inputs <see cref="Prepare"/> wrote.</summary>
    /// <returns>Logits [n, V] float32 (a view into the graph's output; read before the next replay).</returns>
    public Tensor Replay(int size, int n)
    {
        var (graph, _, logits) = _graphs[size];
        _kernels.GraphReplay(graph);
        return logits.narrow(0, 0, n);
    }

    public void Dispose()
    {
        foreach (var (graph, batch, logits) in _graphs.Values)
        {
            _kernels.GraphDelete(graph);
            logits.Dispose();
        }
        _graphs.Clear();
        foreach (var t in new[] { _tokens, _positions, _slots, _inputs, _tables, _lens, _rows }) t.Dispose();
    }
}
