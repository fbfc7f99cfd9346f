using InferenceServer.Engine.Loading;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Tests.Loading;

/// <summary>Files the writer makes read back through the project's safetensors reader, bit for bit, in each dtype.</summary>
public sealed class SafeTensorsWriterTests
{
    /// <param name="sliceBytes">Small slices make every tensor go out in several pieces, as a 2 GiB one does.</param>
    [Theory]
    [InlineData(1L << 30)]
    [InlineData(6L)]
    public void WrittenTensorsReadBackExactly(long sliceBytes)
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("st-").FullName, "model.safetensors");
        try
        {
            manual_seed(3);
            var tensors = new (string Name, Tensor Value)[]
            {
                ("a.weight", randn([3, 5]).to(ScalarType.BFloat16)),
                ("a.weight_scale", rand([3, 1])),
                ("b.weight", randint(-127, 128, [4, 7], ScalarType.Int8)),
                ("c", randn([2, 2, 3]).to(ScalarType.Float16)),
                ("ids", tensor(new long[] { 1, -2, 3 })),
            };
            int reported = 0;
            SafeTensorsWriter.Write(path, tensors.Select(t => new SafeTensorsWriter.Item(t.Name, t.Value.dtype, t.Value.shape, () => t.Value.clone())).ToList(),
                new Dictionary<string, string> { ["source"] = "test" }, (done, _) => reported = done, sliceBytes);
            Assert.Equal(tensors.Length, reported);
            using (var header = File.OpenRead(path))
            {
                var length = new byte[8];
                header.ReadExactly(length);
                Assert.Equal(0UL, BitConverter.ToUInt64(length) % 8);   // the data starts 8-byte aligned
            }
            using var file = new SafeTensorsFile(path);
            Assert.Equal("test", file.Metadata["source"]);
            foreach (var (name, value) in tensors)
            {
                Assert.Equal(value.dtype, file.Entries[name].Dtype);
                Assert.Equal(value.shape, file.Entries[name].Shape);
                using var read = file.Read(name, value.dtype, CPU);
                Assert.True(read.eq(value).all().item<bool>(), name);
            }
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }

    [Fact]
    public void AProducedTensorOfAnotherShapeIsAnError()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("st-").FullName, "bad.safetensors");
        try
        {
            var e = Assert.Throws<InvalidOperationException>(() =>
                SafeTensorsWriter.Write(path, [new SafeTensorsWriter.Item("w", ScalarType.Float32, [2, 3], () => zeros(3, 2))]));
            Assert.Contains("w: produced shape [3, 2], declared [2, 3]", e.Message);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }
}
