namespace InferenceServer.Tokenization;

/// <summary>
/// GPT-2's reversible map from bytes to printable characters: printable Latin-1 bytes stand for themselves,
/// the other 68 bytes (controls, space, soft hyphen...) take the characters from U+0100 on, so a space is "Ġ"
/// and a newline "Ċ". Byte-level BPE vocabularies are written in these characters.
/// </summary>
internal static class ByteLevelAlphabet
{
    private static readonly char[] ByteToChar = BuildByteToChar();
    private static readonly Dictionary<char, byte> CharToByte =
        Enumerable.Range(0, 256).ToDictionary(b => ByteToChar[b], b => (byte)b);

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        var next = 256;
        for (var b = 0; b < 256; b++)
        {
            var printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = printable ? (char)b : (char)next++;
        }
        return map;
    }

    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        return string.Create(bytes.Length, bytes.ToArray(), static (chars, source) =>
        {
            for (var i = 0; i < source.Length; i++)
                chars[i] = ByteToChar[source[i]];
        });
    }

    /// <summary>The bytes a vocabulary string stands for; false when it holds a character outside the alphabet.</summary>
    public static bool TryDecode(string token, List<byte> output)
    {
        var start = output.Count;
        foreach (var c in token)
        {
            if (!CharToByte.TryGetValue(c, out var b))
            {
                output.RemoveRange(start, output.Count - start);
                return false;
            }
            output.Add(b);
        }
        return true;
    }
}
