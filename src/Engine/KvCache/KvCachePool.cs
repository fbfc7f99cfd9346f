using static TorchSharp.torch;

namespace InferenceServer.Engine.KvCache;

/// <summary>
/// The key/value cache of every layer, allocated once. Slot s = block · BlockSize + offset holds one token's keys
/// and values; sequences own blocks through a block table, so memory is paged, never concatenated per step.
/// Per layer: K and V are [NumBlocks · BlockSize, KvHeads, HeadDim] in the serving dtype.
/// </summary>
public sealed class KvCachePool : IDisposable
{
    private readonly Tensor[] _keys;
    private readonly Tensor[] _values;

    public int NumBlocks { get; }
    public int BlockSize { get; }
    public int NumSlots => NumBlocks * BlockSize;

    public KvCachePool(int numLayers, int numBlocks, int blockSize, int kvHeads, int headDim, ScalarType dtype, Device device)
    {
        NumBlocks = numBlocks;
        BlockSize = blockSize;
        _keys = new Tensor[numLayers];
        _values = new Tensor[numLayers];
        for (int i = 0; i < numLayers; i++)
        {
            _keys[i] = zeros([(long)numBlocks * blockSize, kvHeads, headDim], dtype, device);
            _values[i] = zeros([(long)numBlocks * blockSize, kvHeads, headDim], dtype, device);
        }
    }

    /// <summary>Bytes one block takes across all layers (K and V).</summary>
    public static long BytesPerBlock(int numLayers, int blockSize, int kvHeads, int headDim, ScalarType dtype) =>
        2L * numLayers * blockSize * kvHeads * headDim * (dtype == ScalarType.Float32 ? 4 : 2);

    public Tensor Keys(int layer) => _keys[layer];
    public Tensor Values(int layer) => _values[layer];

    /// <summary>Stores a step's keys and values [T, KV, D] of one layer at their slots [T] (int64).</summary>
    public void Store(int layer, Tensor slots, Tensor k, Tensor v)
    {
        _keys[layer].index_copy_(0, slots, k);
        _values[layer].index_copy_(0, slots, v);
    }

    public void Dispose()
    {
        foreach (var t in _keys) t.Dispose();
        foreach (var t in _values) t.Dispose();
    }
}
