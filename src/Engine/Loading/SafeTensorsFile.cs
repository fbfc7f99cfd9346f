using System.Buffers.Binary;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Loading;

/// <summary>
/// One <c>.safetensors</c> file: an 8-byte little-endian header length, a JSON header mapping tensor names to
/// {dtype, shape, data_offsets}, then the raw little-endian data. Tensors are read in bounded chunks and copied
/// into their destination (any device, any dtype), so no tensor is limited to 2 GB and no full host copy exists.
/// </summary>
public sealed class SafeTensorsFile : IDisposable
{
    /// <summary>One tensor's entry in the header.</summary>
    public sealed record Entry(string Name, ScalarType Dtype, long[] Shape, long Begin, long End)
    {
        public long NumElements => Shape.Aggregate(1L, (a, b) => a * b);
    }

    private const int ChunkBytes = 64 << 20;
    private readonly FileStream _stream;
    private readonly long _dataStart;

    public string Path { get; }
    public IReadOnlyDictionary<string, Entry> Entries { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    public SafeTensorsFile(string path)
    {
        Path = path;
        _stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.RandomAccess);
        try
        {
            Span<byte> lenBytes = stackalloc byte[8];
            if (RandomAccess.Read(_stream.SafeFileHandle, lenBytes, 0) != 8)
                throw new ModelLoadException($"{path}: too short to be a safetensors file.");
            var headerLen = BinaryPrimitives.ReadInt64LittleEndian(lenBytes);
            if (headerLen <= 0 || headerLen > 100_000_000 || 8 + headerLen > _stream.Length)
                throw new ModelLoadException($"{path}: invalid safetensors header length {headerLen}.");
            var header = new byte[headerLen];
            RandomAccess.Read(_stream.SafeFileHandle, header, 8);
            _dataStart = 8 + headerLen;
            (Entries, Metadata) = ParseHeader(header, _stream.Length - _dataStart);
        }
        catch
        {
            _stream.Dispose();
            throw;
        }
    }

    private (Dictionary<string, Entry>, Dictionary<string, string>) ParseHeader(byte[] header, long dataLength)
    {
        var entries = new Dictionary<string, Entry>();
        var metadata = new Dictionary<string, string>();
        try
        {
            using var doc = JsonDocument.Parse(header);
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == "__metadata__")
                {
                    foreach (var m in prop.Value.EnumerateObject())
                        metadata[m.Name] = m.Value.ToString();
                    continue;
                }
                // A JSON null dtype reads as null; "" is not a dtype name either, so it gets ParseDtype's error.
                var dtype = ParseDtype(prop.Value.GetProperty("dtype").GetString() ?? "");
                var shape = prop.Value.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray();
                var offsets = prop.Value.GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt64()).ToArray();
                if (offsets.Length != 2 || offsets[0] < 0 || shape.Any(d => d < 0))
                    throw new ModelLoadException($"{Path}: tensor {prop.Name} needs data_offsets [begin, end] with begin >= 0 and a shape without negative dimensions.");
                var entry = new Entry(prop.Name, dtype, shape, offsets[0], offsets[1]);
                // Checked: a shape such as [2^32, 2^32] wraps to 0 elements unchecked and would pass as an empty tensor.
                long bytes = checked(shape.Aggregate(1L, (a, b) => checked(a * b)) * ElementSize(dtype));
                // libtorch's strides are products of the dimensions with zeros counted as 1: a zero-element shape such as
                // [0, 2^63 − 1, 2] has no bytes but strides that overflow, so it is checked the same way.
                _ = checked(shape.Aggregate(1L, (a, b) => checked(a * Math.Max(b, 1L))));
                if (entry.End < entry.Begin || entry.End > dataLength || entry.End - entry.Begin != bytes)
                    throw new ModelLoadException($"{Path}: tensor {prop.Name} has data offsets [{entry.Begin}, {entry.End}) that do not match its shape or the file size.");
                entries[prop.Name] = entry;
            }
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException
                                       // GetInt64 of 1.5 or 1e400 (FormatException), a shape whose size overflows a long.
                                       or FormatException or OverflowException)
        {
            throw new ModelLoadException($"{Path}: malformed safetensors header ({e.Message}).", e);
        }
        return (entries, metadata);
    }

    /// <summary>Reads a tensor into a new tensor of <paramref name="dtype"/> on <paramref name="device"/>.</summary>
    public Tensor Read(string name, ScalarType dtype, Device device)
    {
        var e = Entries.TryGetValue(name, out var found) ? found
            : throw new ModelLoadException($"{Path}: no tensor named {name}.");
        var dest = empty(e.Shape, dtype, device);
        try
        {
            ReadInto(e, dest);
            return dest;
        }
        catch
        {
            dest.Dispose();
            throw;
        }
    }

    /// <summary>Copies the tensor's data into <paramref name="dest"/> (same number of elements, contiguous).</summary>
    public void ReadInto(Entry e, Tensor dest)
    {
        if (dest.numel() != e.NumElements || !dest.is_contiguous())
            throw new ArgumentException($"destination for {e.Name} must be contiguous with {e.NumElements} elements");
        using var flat = dest.view(-1);
        int elemSize = ElementSize(e.Dtype);
        long chunkElems = ChunkBytes / elemSize;
        var buffer = new byte[(int)Math.Min(ChunkBytes, Math.Max(e.End - e.Begin, 1))];
        for (long start = 0; start < e.NumElements; start += chunkElems)
        {
            long count = Math.Min(chunkElems, e.NumElements - start);
            var span = buffer.AsSpan(0, (int)(count * elemSize));
            long offset = _dataStart + e.Begin + start * elemSize;
            int read = 0;
            while (read < span.Length)
            {
                int n = RandomAccess.Read(_stream.SafeFileHandle, span[read..], offset + read);
                if (n == 0) throw new ModelLoadException($"{Path}: unexpected end of file while reading {e.Name}.");
                read += n;
            }
            using var staging = empty(count, e.Dtype);
            staging.bytes = span;
            using var slice = flat.narrow(0, start, count);
            slice.copy_(staging);
        }
    }

    /// <summary>The safetensors header's dtype names this server reads and writes.</summary>
    internal static readonly IReadOnlyDictionary<string, ScalarType> DtypeNames = new Dictionary<string, ScalarType>
    {
        ["F32"] = ScalarType.Float32,
        ["F16"] = ScalarType.Float16,
        ["BF16"] = ScalarType.BFloat16,
        ["F64"] = ScalarType.Float64,
        ["I8"] = ScalarType.Int8,
        ["U8"] = ScalarType.Byte,
        ["I16"] = ScalarType.Int16,
        ["I32"] = ScalarType.Int32,
        ["I64"] = ScalarType.Int64,
        ["BOOL"] = ScalarType.Bool,
    };

    public static ScalarType ParseDtype(string s) =>
        DtypeNames.TryGetValue(s, out var t) ? t : throw new ModelLoadException($"safetensors dtype {s} is not supported.");

    public static int ElementSize(ScalarType t) => t switch
    {
        ScalarType.Float64 or ScalarType.Int64 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
        _ => 1,
    };

    public void Dispose() => _stream.Dispose();
}
