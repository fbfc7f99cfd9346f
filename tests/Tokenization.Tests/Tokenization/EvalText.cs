using InferenceServer.TestSupport;

namespace InferenceServer.Tokenization.Tests.Tokenization;

/// <summary>The lines of src/Assets/data/eval.txt, as the reference ids were produced from them.</summary>
internal static class EvalText
{
    private static readonly Lazy<string[]> LinesLazy = new(() =>
    {
        var text = File.ReadAllText(Path.Combine(RepoPaths.Assets, "data", "eval.txt"));
        var lines = text.Split('\n');
        return text.EndsWith('\n') ? lines[..^1] : lines;
    });

    public static string[] Lines => LinesLazy.Value;
}
