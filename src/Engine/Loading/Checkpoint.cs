using System.Text.Json;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Loading;

/// <summary>
/// The safetensors weights of an HF checkpoint folder: one <c>model.safetensors</c>, or shards listed in
/// <c>model.safetensors.index.json</c>. Maps each tensor name to the file that holds it.
/// </summary>
public sealed class Checkpoint : IDisposable
{
    private readonly List<SafeTensorsFile> _files = [];
    private readonly Dictionary<string, SafeTensorsFile> _byName = new();

    public string Directory { get; }
    public IEnumerable<string> Names => _byName.Keys;

    public Checkpoint(string dir)
    {
        Directory = dir;
        var index = System.IO.Path.Combine(dir, "model.safetensors.index.json");
        var single = System.IO.Path.Combine(dir, "model.safetensors");
        try
        {
            if (File.Exists(index))
            {
                foreach (var shard in ReadIndex(index))
                    Add(new SafeTensorsFile(System.IO.Path.Combine(dir, shard)));
            }
            else if (File.Exists(single))
            {
                Add(new SafeTensorsFile(single));
            }
            else
            {
                var any = System.IO.Directory.GetFiles(dir, "*.safetensors").Order().ToArray();
                if (any.Length == 0)
                    throw new ModelLoadException($"{dir}: no model.safetensors, model.safetensors.index.json or *.safetensors file. Only safetensors checkpoints are supported; use --load-format dummy for random weights.");
                foreach (var f in any) Add(new SafeTensorsFile(f));
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private static IEnumerable<string> ReadIndex(string index)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(index));
            return doc.RootElement.GetProperty("weight_map").EnumerateObject()
                .Select(p => p.Value.GetString()!).Distinct().Order().ToArray();
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new ModelLoadException($"{index}: malformed index ({e.Message}); expected {{\"weight_map\": {{tensor: file}}}}.", e);
        }
    }

    private void Add(SafeTensorsFile f)
    {
        _files.Add(f);
        foreach (var name in f.Entries.Keys) _byName[name] = f;
    }

    public bool Contains(string name) => _byName.ContainsKey(name);

    public SafeTensorsFile.Entry Entry(string name) => _byName.TryGetValue(name, out var f) ? f.Entries[name]
        : throw new ModelLoadException($"{Directory}: the checkpoint has no tensor {name}.");

    public Tensor Read(string name, ScalarType dtype, Device device) =>
        _byName.TryGetValue(name, out var f) ? f.Read(name, dtype, device)
            : throw new ModelLoadException($"{Directory}: the checkpoint has no tensor {name}.");

    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
        _files.Clear();
    }
}
