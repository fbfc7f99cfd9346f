using System.Text;

namespace InferenceServer.Tokenization;

/// <summary>One stage of an HF pre-tokenizer Sequence: it cuts each piece of text into smaller pieces.</summary>
internal abstract class PreTokenizerStep
{
    public abstract void Apply(string piece, List<string> output);
}

/// <summary>HF <c>Split</c>: cut by a regex or literal pattern.</summary>
internal sealed class SplitStep(SplitPattern pattern) : PreTokenizerStep
{
    public override void Apply(string piece, List<string> output) => pattern.Split(piece, output);
}

/// <summary>
/// HF <c>ByteLevel</c> pre-tokenizer: optionally a leading space for each piece that lacks one, optionally the GPT-2
/// split, then the piece's UTF-8 bytes written in the byte-level alphabet (so a space becomes "Ġ").
/// </summary>
internal sealed class ByteLevelStep(bool addPrefixSpace, bool useRegex) : PreTokenizerStep
{
    public override void Apply(string piece, List<string> output)
    {
        if (addPrefixSpace && !piece.StartsWith(' '))
            piece = " " + piece;
        if (!useRegex)
        {
            output.Add(ToByteLevel(piece));
            return;
        }
        var parts = new List<string>();
        SplitPattern.Gpt2.Split(piece, parts);
        foreach (var part in parts)
            output.Add(ToByteLevel(part));
    }

    private static string ToByteLevel(string text) => ByteLevelAlphabet.Encode(Encoding.UTF8.GetBytes(text));
}
