namespace InferenceServer.StructuredOutputs;

/// <summary>
/// Splits a code-point range into sequences of byte ranges whose concatenations are exactly the UTF-8 encodings of
/// the range (the construction of Rust regex-syntax's Utf8Sequences). Surrogates (U+D800–U+DFFF) are left out.
/// </summary>
internal static class Utf8Sequences
{
    public static List<(byte Lo, byte Hi)[]> Of(int lo, int hi)
    {
        var output = new List<(byte, byte)[]>();
        hi = Math.Min(hi, 0x10FFFF);
        if (lo <= 0xD7FF) Split(lo, Math.Min(hi, 0xD7FF), output);
        if (hi >= 0xE000) Split(Math.Max(lo, 0xE000), hi, output);
        return output;
    }

    private static void Split(int lo, int hi, List<(byte, byte)[]> output)
    {
        if (lo > hi) return;
        foreach (var max in (int[])[0x7F, 0x7FF, 0xFFFF])
            if (lo <= max && hi > max)
            {
                Split(lo, max, output);
                Split(max + 1, hi, output);
                return;
            }
        if (hi <= 0x7F)
        {
            output.Add([((byte)lo, (byte)hi)]);
            return;
        }
        int n = Length(lo);
        for (int i = 1; i < n; i++)
        {
            int m = (1 << (6 * i)) - 1;   // the low bits of the last i continuation bytes
            if ((lo & ~m) != (hi & ~m))
            {
                if ((lo & m) != 0)
                {
                    Split(lo, lo | m, output);
                    Split((lo | m) + 1, hi, output);
                    return;
                }
                if ((hi & m) != m)
                {
                    Split(lo, (hi & ~m) - 1, output);
                    Split(hi & ~m, hi, output);
                    return;
                }
            }
        }
        var a = Encode(lo);
        var b = Encode(hi);
        var sequence = new (byte, byte)[n];
        for (int i = 0; i < n; i++) sequence[i] = (a[i], b[i]);
        output.Add(sequence);
    }

    private static int Length(int cp) => cp <= 0x7F ? 1 : cp <= 0x7FF ? 2 : cp <= 0xFFFF ? 3 : 4;

    private static byte[] Encode(int cp) => System.Text.Encoding.UTF8.GetBytes(char.ConvertFromUtf32(cp));
}
