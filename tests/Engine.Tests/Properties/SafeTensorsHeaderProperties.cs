using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using CsCheck;
using InferenceServer.Engine.Loading;
using InferenceServer.TestSupport;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Tests.Properties;

/// <summary>
/// Property tests of the safetensors header parser: random and mutated files, written to a temp folder, open as a
/// <see cref="SafeTensorsFile"/> whose entries are consistent (readable as they say) or fail with
/// <see cref="ModelLoadException"/>, the documented error for a bad checkpoint, within <see cref="BoundedCase.Timeout"/>.
/// Never another exception type, and never an allocation sized by a declared length.
/// </summary>
public sealed class SafeTensorsHeaderProperties : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("st-prop-");

    public void Dispose() => _dir.Delete(recursive: true);

    private static Gen<string> Pick(params string[] xs) => Gen.Int[0, xs.Length - 1].Select(i => xs[i]);

    private static T At<T>(int i, params T[] xs) => xs[i % xs.Length];

    private static readonly string[] Dtypes = ["F32", "F16", "BF16", "F64", "I8", "U8", "I16", "I32", "I64", "BOOL"];
    private static readonly int[] Sizes = [4, 2, 2, 8, 1, 1, 2, 4, 8, 1];

    private static readonly Gen<string> OddNumbers = Pick("-1", "0", "1.5", "-0", "1e3", "4294967296", "9223372036854775807",
        "9223372036854775808", "-9223372036854775808", "1e400", "\"4\"", "null", "true", "[]", "{}");

    /// <summary>One tensor entry: mostly consistent (offsets match the shape), sometimes with one field replaced by something odd.</summary>
    private static Gen<(string Json, long Bytes)> Entry(long at) => Gen.Select(Gen.Int[0, Dtypes.Length - 1], Gen.Int[0, 3].List[0, 3], Gen.Int[0, 12], OddNumbers, Gen.Int[0, 1000])
        .Select((d, shape, oddity, odd, extra) =>
        {
            long bytes = shape.Aggregate(1L, (a, b) => a * b) * Sizes[d];
            string dtype = JsonSerializer.Serialize(Dtypes[d]);
            string shapeJson = "[" + string.Join(",", shape) + "]";
            string offsets = $"[{at},{at + bytes}]";
            switch (oddity)
            {
                case 0: dtype = At(extra, "null", "5", "\"F8_E4M3\"", "\"f32\"", "\"\"", "[]"); break;
                case 1: shapeJson = "[" + string.Join(",", shape.Select(x => x.ToString()).Append(odd)) + "]"; break;
                case 2: shapeJson = odd; break;
                case 3: offsets = At(extra, "[]", $"[{at}]", $"[{at},{at + bytes},{at}]", $"[{at + bytes},{at}]", "null", "{}", "\"0\""); break;
                case 4: offsets = $"[{odd},{at + bytes}]"; break;
                case 5: offsets = $"[{at},{odd}]"; break;
                case 6: // a shape whose element count overflows a long, with offsets that match the wrapped product
                    shapeJson = "[4294967296,4294967296]"; offsets = $"[{at},{at}]"; break;
                case 7: shapeJson = "[-2,-3]"; offsets = $"[{at},{at + 6 * Sizes[d]}]"; break;
                case 8: offsets = $"[{at - 8 * (1 + extra % 3)},{at - 8 * (1 + extra % 3) + bytes}]"; break;
            }
            var parts = new List<string> { "\"dtype\":" + dtype, "\"shape\":" + shapeJson, "\"data_offsets\":" + offsets };
            if (oddity == 9) parts.RemoveAt(extra % 3);
            return ("{" + string.Join(",", parts) + "}", bytes);
        });

    private static readonly Gen<string> Metadata = Pick("", "\"__metadata__\":{\"format\":\"pt\"},", "\"__metadata__\":{\"a\":1,\"b\":[1]},",
        "\"__metadata__\":null,", "\"__metadata__\":[],", "\"__metadata__\":\"x\",");

    /// <summary>A header of 0–4 entries laid out one after another, and the data bytes that follow it.</summary>
    private static readonly Gen<(byte[] Header, int DataBytes)> Headers = Gen.Select(Metadata, Gen.Int[1, 4], Gen.Int[-8, 8], Gen.Bool)
        .SelectMany((meta, count, slack, badName) =>
        {
            Gen<(List<string> Entries, long At)> entries = Gen.Const((new List<string>(), 0L));
            for (int k = 0; k < count; k++)
            {
                int idx = k;
                entries = entries.SelectMany(acc => Entry(acc.At).Select(e =>
                {
                    var name = badName && idx == 0 ? "\"\\ud800\"" : JsonSerializer.Serialize($"t{idx}");
                    return (acc.Entries.Append(name + ":" + e.Json).ToList(), acc.At + Math.Max(0, e.Bytes));
                }));
            }
            return entries.Select(acc => (Encoding.UTF8.GetBytes("{" + meta + string.Join(",", acc.Entries) + "}"), (int)Math.Max(0, Math.Min(4096, acc.At + slack))));
        });

    /// <summary>The whole file: the length prefix (sometimes wrong), the header (sometimes with a damaged byte), the data.</summary>
    private static readonly Gen<byte[]> Files = Gen.Select(Headers, Gen.Int[0, 9], Gen.Int[0, 100_000], Gen.Byte)
        .Select((h, kind, at, b) =>
        {
            var header = h.Header.ToArray();
            long declared = header.Length;
            switch (kind)
            {
                case 0: declared = At(at, 0L, -1L, 100_000_001L, long.MaxValue, long.MinValue); break;
                case 1: declared = header.Length + 1 + at % (h.DataBytes + 16); break;   // past the header, maybe past the file
                case 2: declared = Math.Max(1, header.Length - 1 - at % Math.Max(1, header.Length)); break; // a cut header
                case 3: header[at % header.Length] = b; break;
                case 4: header[at % header.Length] ^= (byte)(1 << (at % 8)); break;
                case 5: return BitConverter.GetBytes(7L)[..(at % 8)]; // shorter than the length prefix
            }
            var file = new byte[8 + header.Length + h.DataBytes];
            BinaryPrimitives.WriteInt64LittleEndian(file, declared);
            header.CopyTo(file, 8);
            return file;
        });

    private void CheckOpens(byte[] bytes)
    {
        string shown = Show(bytes);
        var path = Path.Combine(_dir.FullName, Guid.NewGuid().ToString("N") + ".safetensors");
        File.WriteAllBytes(path, bytes);
        try
        {
            BoundedCase.Run(shown, () =>
            {
                SafeTensorsFile file;
                try
                {
                    file = new SafeTensorsFile(path);
                }
                catch (ModelLoadException)
                {
                    return;
                }
                using (file)
                {
                    long dataLength = bytes.Length - 8 - BinaryPrimitives.ReadInt64LittleEndian(bytes);
                    foreach (var e in file.Entries.Values)
                    {
                        // What the reader relies on: offsets inside the data, a shape that is a real size, bytes that match it.
                        Assert.True(e.Begin >= 0 && e.Begin <= e.End && e.End <= dataLength, $"offsets [{e.Begin}, {e.End}) outside the data ({dataLength} bytes) of {shown}");
                        Assert.True(e.Shape.All(d => d >= 0), $"negative dimension in [{string.Join(",", e.Shape)}] of {shown}");
                        long elements = e.Shape.Aggregate(1L, (a, d) => checked(a * d));
                        Assert.Equal(e.End - e.Begin, elements * SafeTensorsFile.ElementSize(e.Dtype));
                        using var t = file.Read(e.Name, e.Dtype, CPU);
                        Assert.Equal(elements, t.numel());
                    }
                }
            });
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static string Show(byte[] file)
    {
        if (file.Length < 8) return $"file of {file.Length} bytes {Convert.ToHexString(file)}";
        long declared = BinaryPrimitives.ReadInt64LittleEndian(file);
        return $"declared header length {declared}, header+data {JsonSerializer.Serialize(Encoding.UTF8.GetString(file, 8, file.Length - 8))} (hex {Convert.ToHexString(file)})";
    }

    [Fact]
    public void Random_and_mutated_files_open_consistently_or_fail_with_ModelLoadException() =>
        Files.Sample(CheckOpens, seed: BoundedCase.Seed, iter: 600, print: Show);

    /// <summary>
    /// Headers the property found that escaped as other exceptions or were accepted while unreadable, before the fix
    /// in SafeTensorsFile.ParseHeader: each is now a ModelLoadException.
    /// </summary>
    [Fact]
    public void Regression_headers_found_by_the_property_fail_with_ModelLoadException()
    {
        string[] headers =
        [
            "{\"t\":{\"dtype\":\"I16\",\"shape\":[2,1],\"data_offsets\":[[],5]}}",   // FormatException from GetInt64
            "{\"t\":{\"dtype\":\"U8\",\"shape\":[1.5],\"data_offsets\":[0,1]}}",     // FormatException
            "{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[]}}",          // IndexOutOfRangeException
            "{\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]}}",         // IndexOutOfRangeException
            "{\"t\":{\"dtype\":null,\"shape\":[1],\"data_offsets\":[0,1]}}",           // ArgumentNullException
            "{\"t\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}", // wrapped to 0 elements: accepted
            "{\"t\":{\"dtype\":\"U8\",\"shape\":[-2,-3],\"data_offsets\":[0,6]}}",    // negative dimensions: accepted
            "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}",      // begins inside the header: accepted
        ];
        foreach (var header in headers)
        {
            var json = Encoding.UTF8.GetBytes(header);
            var file = new byte[8 + json.Length + 8];
            BinaryPrimitives.WriteInt64LittleEndian(file, json.Length);
            json.CopyTo(file, 8);
            var path = Path.Combine(_dir.FullName, Guid.NewGuid().ToString("N") + ".safetensors");
            File.WriteAllBytes(path, file);
            var e = Record.Exception(() => new SafeTensorsFile(path).Dispose());
            Assert.True(e is ModelLoadException, $"{header}: {e?.GetType().Name ?? "accepted"}");
        }
    }
}
