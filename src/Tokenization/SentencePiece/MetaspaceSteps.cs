using System.Text;

namespace InferenceServer.Tokenization;

/// <summary>When the Metaspace pre-tokenizer puts ▁ before a piece of text (HF tokenizers' PrependScheme).</summary>
internal enum PrependScheme
{
    Always,
    First,
    Never,
}

/// <summary>
/// The text side of a SentencePiece-style tokenizer.json, as HF tokenizers applies it to one piece of text between
/// added tokens: the normalizer steps (older files: Prepend "▁" then Replace " " → "▁"), then the Metaspace
/// pre-tokenizer (newer files: spaces → ▁, ▁ prepended by the scheme, optionally split before each ▁).
/// </summary>
internal sealed record MetaspaceNormalization(
    IReadOnlyList<(string? Prepend, string? From, string? To)> Normalizer,
    char? Replacement,
    PrependScheme Scheme,
    bool Split)
{
    /// <param name="atTextStart">The piece starts at offset 0 of the caller's text (what prepend_scheme "first" checks).</param>
    public void Apply(string text, bool atTextStart, List<string> words)
    {
        foreach (var (prepend, from, to) in Normalizer)
        {
            if (prepend is not null)
            {
                if (text.Length > 0)
                    text = prepend + text;
            }
            else
            {
                text = text.Replace(from!, to);
            }
        }
        if (text.Length == 0)
            return;
        if (Replacement is not { } r)
        {
            words.Add(text);
            return;
        }
        text = text.Replace(' ', r);
        var prependHere = Scheme == PrependScheme.Always || (Scheme == PrependScheme.First && atTextStart);
        if (prependHere && text[0] != r)
            text = r + text;
        if (!Split)
        {
            words.Add(text);
            return;
        }
        // Split before every ▁ (MergedWithNext): "▁a▁b" → "▁a", "▁b".
        var start = 0;
        for (var i = 1; i < text.Length; i++)
        {
            if (text[i] != r)
                continue;
            words.Add(text[start..i]);
            start = i;
        }
        words.Add(text[start..]);
    }
}

/// <summary>One step of a tokenizer.json decoder chain over token strings (HF tokenizers' decode_chain).</summary>
internal abstract record DecoderStep
{
    public abstract List<string> Apply(List<string> tokens);

    /// <summary>Replace: a literal pattern in each token.</summary>
    public sealed record Replace(string From, string To) : DecoderStep
    {
        public override List<string> Apply(List<string> tokens) => tokens.Select(t => t.Replace(From, To)).ToList();
    }

    /// <summary>ByteFallback: runs of &lt;0xXX&gt; tokens become their UTF-8 text, or one U+FFFD per byte when invalid.</summary>
    public sealed record ByteFallback : DecoderStep
    {
        public override List<string> Apply(List<string> tokens)
        {
            var output = new List<string>(tokens.Count);
            var bytes = new List<byte>();
            void Flush()
            {
                if (bytes.Count == 0)
                    return;
                var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes);
                output.Add(System.Text.Unicode.Utf8.IsValid(span) ? Encoding.UTF8.GetString(span) : new string('\uFFFD', bytes.Count));
                bytes.Clear();
            }
            foreach (var token in tokens)
            {
                if (TryParseByte(token, out var b))
                {
                    bytes.Add(b);
                    continue;
                }
                Flush();
                output.Add(token);
            }
            Flush();
            return output;
        }

        private static bool TryParseByte(string token, out byte value)
        {
            value = 0;
            return token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>' &&
                   byte.TryParse(token.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out value);
        }
    }

    /// <summary>Fuse: all tokens into one string.</summary>
    public sealed record Fuse : DecoderStep
    {
        public override List<string> Apply(List<string> tokens) => [string.Concat(tokens)];
    }

    /// <summary>Strip: up to Start leading and Stop trailing occurrences of Content, from each token.</summary>
    public sealed record Strip(char Content, int Start, int Stop) : DecoderStep
    {
        public override List<string> Apply(List<string> tokens) => tokens.Select(t =>
        {
            var head = 0;
            while (head < Start && head < t.Length && t[head] == Content)
                head++;
            var tail = 0;
            while (tail < Stop && tail < t.Length - head && t[t.Length - 1 - tail] == Content)
                tail++;
            return t[head..(t.Length - tail)];
        }).ToList();
    }

    /// <summary>Metaspace: ▁ → space in each token; the first token loses a leading space unless the scheme is never.</summary>
    public sealed record Metaspace(char Replacement, PrependScheme Scheme) : DecoderStep
    {
        public override List<string> Apply(List<string> tokens) => tokens.Select((t, i) =>
        {
            var s = t.Replace(Replacement, ' ');
            return i == 0 && Scheme != PrependScheme.Never && s.StartsWith(' ') ? s[1..] : s;
        }).ToList();
    }
}
