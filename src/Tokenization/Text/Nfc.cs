using System.Text;

namespace InferenceServer.Tokenization;

/// <summary>
/// Unicode Normalization Form C (UAX #15): canonical decomposition, canonical ordering, canonical composition.
/// Our own because <c>string.Normalize</c> does nothing for non-ASCII text under InvariantGlobalization,
/// and tokenizers with an NFC normalizer (Qwen) give different ids for "e\u0301" and "é".
/// </summary>
internal static partial class Nfc
{
    // Hangul syllables compose and decompose arithmetically (Unicode §3.12).
    private const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
    private const int LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

    private static readonly Dictionary<int, byte> CombiningClasses = BuildCombiningClasses();
    private static readonly Dictionary<int, (int First, int Second)> Decompositions = BuildDecompositions();
    private static readonly Dictionary<long, int> Compositions = BuildCompositions();

    public static string Normalize(string text)
    {
        if (IsTriviallyStable(text))
            return text;
        var codePoints = new List<int>(text.Length);
        foreach (var rune in text.EnumerateRunes())
            Decompose(rune.Value, codePoints);
        ReorderMarks(codePoints);
        Compose(codePoints);
        var builder = new StringBuilder(text.Length);
        foreach (var cp in codePoints)
            builder.Append(char.ConvertFromUtf32(cp));
        return builder.ToString();
    }

    private static bool IsTriviallyStable(string text)
    {
        foreach (var c in text)
        {
            if (c >= FirstUnstableCodePoint)
                return false;
        }
        return true;
    }

    private static int CombiningClass(int cp) => CombiningClasses.TryGetValue(cp, out var c) ? c : 0;

    private static void Decompose(int cp, List<int> output)
    {
        var s = cp - SBase;
        if (s is >= 0 and < SCount)
        {
            output.Add(LBase + s / NCount);
            output.Add(VBase + s % NCount / TCount);
            if (s % TCount != 0)
                output.Add(TBase + s % TCount);
            return;
        }
        if (!Decompositions.TryGetValue(cp, out var parts))
        {
            output.Add(cp);
            return;
        }
        Decompose(parts.First, output);
        if (parts.Second != 0)
            Decompose(parts.Second, output);
    }

    /// <summary>Stable sort of each run of non-starters by combining class (canonical ordering).</summary>
    private static void ReorderMarks(List<int> cps)
    {
        for (var i = 1; i < cps.Count; i++)
        {
            var cc = CombiningClass(cps[i]);
            if (cc == 0)
                continue;
            for (var j = i; j > 0; j--)
            {
                var prev = CombiningClass(cps[j - 1]);
                if (prev == 0 || prev <= cc)
                    break;
                (cps[j - 1], cps[j]) = (cps[j], cps[j - 1]);
            }
        }
    }

    /// <summary>Canonical composition: each mark joins the last starter unless blocked by a mark of equal or higher class.</summary>
    private static void Compose(List<int> cps)
    {
        if (cps.Count == 0)
            return;
        var starter = 0;
        var lastClass = CombiningClass(cps[0]) == 0 ? 0 : 256;
        var write = 1;
        for (var read = 1; read < cps.Count; read++)
        {
            var cp = cps[read];
            var cc = CombiningClass(cp);
            if ((lastClass < cc || lastClass == 0) && TryCompose(cps[starter], cp, out var composite))
            {
                cps[starter] = composite;
                continue;
            }
            if (cc == 0)
                starter = write;
            lastClass = cc;
            cps[write++] = cp;
        }
        cps.RemoveRange(write, cps.Count - write);
    }

    private static bool TryCompose(int first, int second, out int composite)
    {
        var l = first - LBase;
        var v = second - VBase;
        if (l is >= 0 and < LCount && v is >= 0 and < VCount)
        {
            composite = SBase + (l * VCount + v) * TCount;
            return true;
        }
        var s = first - SBase;
        var t = second - TBase;
        if (s is >= 0 and < SCount && s % TCount == 0 && t is > 0 and < TCount)
        {
            composite = first + t;
            return true;
        }
        return Compositions.TryGetValue(((long)first << 21) | (uint)second, out composite);
    }

    private static Dictionary<int, byte> BuildCombiningClasses()
    {
        var map = new Dictionary<int, byte>(CombiningClassPairs.Length / 2);
        for (var i = 0; i < CombiningClassPairs.Length; i += 2)
            map[CombiningClassPairs[i]] = (byte)CombiningClassPairs[i + 1];
        return map;
    }

    private static Dictionary<int, (int, int)> BuildDecompositions()
    {
        var map = new Dictionary<int, (int, int)>(DecompositionTriples.Length / 3);
        for (var i = 0; i < DecompositionTriples.Length; i += 3)
            map[DecompositionTriples[i]] = (DecompositionTriples[i + 1], DecompositionTriples[i + 2]);
        return map;
    }

    private static Dictionary<long, int> BuildCompositions()
    {
        var map = new Dictionary<long, int>(CompositionTriples.Length / 3);
        for (var i = 0; i < CompositionTriples.Length; i += 3)
            map[((long)CompositionTriples[i] << 21) | (uint)CompositionTriples[i + 1]] = CompositionTriples[i + 2];
        return map;
    }
}
