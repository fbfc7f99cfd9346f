using System.Text;
using System.Text.Json.Nodes;
using InferenceServer.Engine.Runtime;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Loading;

/// <summary>
/// Writes a .safetensors file: an 8-byte little-endian header length, the JSON header (dtype, shape and byte range of
/// every tensor, padded with spaces to a multiple of 8), then the tensors' bytes in order. Tensors are produced one
/// at a time, so a checkpoint larger than memory can be written from weights read lazily.
/// </summary>
public static class SafeTensorsWriter
{
    /// <summary>One tensor to write: its name, dtype and shape, and a function that produces it (on any device).</summary>
    public sealed record Item(string Name, ScalarType Dtype, long[] Shape, Func<Tensor> Produce);

    /// <param name="sliceBytes">Largest piece of a tensor written at once (a span holds less than 2 GiB).</param>
    public static void Write(string path, IReadOnlyList<Item> items, IReadOnlyDictionary<string, string>? metadata = null, Action<int, int>? progress = null,
        long sliceBytes = 1L << 30)
    {
        var header = new JsonObject();
        var meta = new JsonObject { ["format"] = "pt" };
        foreach (var (k, v) in metadata ?? new Dictionary<string, string>()) meta[k] = v;
        header["__metadata__"] = meta;
        long offset = 0;
        foreach (var item in items)
        {
            long bytes = item.Shape.Aggregate(1L, (a, b) => a * b) * SafeTensorsFile.ElementSize(item.Dtype);
            header[item.Name] = new JsonObject
            {
                ["dtype"] = DtypeName(item.Dtype),
                ["shape"] = new JsonArray(item.Shape.Select(d => (JsonNode)d).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
        }
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        stream.Write(BitConverter.GetBytes((ulong)padded));
        stream.Write(json);
        for (int i = json.Length; i < padded; i++) stream.WriteByte((byte)' ');
        for (int i = 0; i < items.Count; i++)
        {
            var item = items[i];
            using var keep = new KeepAliveScope();   // producing may quantize, leaving temporaries to the collector
            using var produced = item.Produce();
            using var cpu = produced.to(item.Dtype, CPU).contiguous();
            if (!cpu.shape.SequenceEqual(item.Shape))
                throw new InvalidOperationException($"{item.Name}: produced shape [{string.Join(", ", cpu.shape)}], declared [{string.Join(", ", item.Shape)}]");
            // In slices: a span cannot hold a tensor of 2 GiB or more (a float32 vocabulary embedding of a large model).
            using var flat = cpu.view(-1);
            long step = Math.Max(1, sliceBytes / SafeTensorsFile.ElementSize(item.Dtype));
            for (long start = 0; start < flat.shape[0]; start += step)
            {
                using var slice = flat.narrow(0, start, Math.Min(step, flat.shape[0] - start));
                stream.Write(slice.bytes);
            }
            progress?.Invoke(i + 1, items.Count);
        }
    }

    /// <summary>The header name of a dtype: the inverse of <see cref="SafeTensorsFile.ParseDtype"/>.</summary>
    public static string DtypeName(ScalarType t) =>
        SafeTensorsFile.DtypeNames.FirstOrDefault(p => p.Value == t).Key ?? throw new ArgumentException($"safetensors has no dtype for {t}");
}
