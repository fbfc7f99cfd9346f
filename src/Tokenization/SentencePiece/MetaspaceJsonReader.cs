using System.Text.Json;

namespace InferenceServer.Tokenization;

/// <summary>
/// Reads a tokenizer.json of the SentencePiece kind (Llama-2, Mistral, TinyLlama as converted by transformers): a BPE
/// model over ▁-escaped text, usually with byte_fallback, whose text side is either the older normalizer
/// (Prepend "▁", Replace " " → "▁") or the newer Metaspace pre-tokenizer. Anything we would get wrong is rejected
/// with <see cref="NotSupportedException"/>.
/// </summary>
internal static class MetaspaceJsonReader
{
    public sealed record Parts(
        RankedBpe Bpe,
        Dictionary<string, int> Vocab,
        List<AddedToken> AddedTokens,
        MetaspaceNormalization Normalization,
        List<DecoderStep> Decoder,
        SpecialTokenTemplate? Template);

    /// <summary>True when the file is of this kind: no ByteLevel anywhere, and a Metaspace pre-tokenizer or a ▁ normalizer.</summary>
    public static bool IsMetaspace(JsonElement root)
    {
        var raw = root.TryGetProperty("pre_tokenizer", out var pre) ? pre.GetRawText() : "";
        var norm = root.TryGetProperty("normalizer", out var n) ? n.GetRawText() : "";
        return !raw.Contains("\"ByteLevel\"", StringComparison.Ordinal) &&
               (raw.Contains("\"Metaspace\"", StringComparison.Ordinal) || norm.Contains("\u2581", StringComparison.Ordinal) ||
                norm.Contains("\\u2581", StringComparison.OrdinalIgnoreCase));
    }

    public static Parts Read(JsonElement root)
    {
        var added = new List<AddedToken>();
        if (root.TryGetProperty("added_tokens", out var addedJson) && addedJson.ValueKind == JsonValueKind.Array)
        {
            foreach (var token in addedJson.EnumerateArray())
                added.Add(TokenizerConfig.ReadAddedToken(token, TokenizerJsonReader.Required(token, "id").GetInt32()));
        }
        if (added.Any(t => t.Normalized && !t.Special))
            throw new NotSupportedException("added tokens with normalized=true");

        var model = TokenizerJsonReader.Required(root, "model");
        var type = model.TryGetProperty("type", out var t) ? t.GetString() : "BPE";
        if (type != "BPE")
            throw new NotSupportedException($"model type \"{type}\" (only BPE is supported)");
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in TokenizerJsonReader.Required(model, "vocab").EnumerateObject())
            vocab[entry.Name] = entry.Value.GetInt32();
        var merges = TokenizerJsonReader.Required(model, "merges").EnumerateArray().Select(TokenizerJsonReader.ReadMerge).ToList();
        int? unkId = model.TryGetProperty("unk_token", out var unk) && unk.ValueKind == JsonValueKind.String &&
                     vocab.TryGetValue(unk.GetString()!, out var u) ? u : null;
        var bpe = new RankedBpe(vocab, merges, Flag(model, "ignore_merges"), unkId, Flag(model, "byte_fallback"), Flag(model, "fuse_unk"));

        var tokenIds = new Dictionary<string, int>(vocab, StringComparer.Ordinal);
        foreach (var token in added)
            tokenIds[token.Content] = token.Id;

        return new Parts(
            bpe,
            tokenIds,
            added,
            ReadNormalization(root),
            ReadDecoder(root.TryGetProperty("decoder", out var d) ? d : default),
            root.TryGetProperty("post_processor", out var post) ? TokenizerJsonReader.ReadPostProcessor(post, tokenIds) : null);
    }

    private static MetaspaceNormalization ReadNormalization(JsonElement root)
    {
        var steps = new List<(string?, string?, string?)>();
        if (root.TryGetProperty("normalizer", out var normalizer))
            ReadNormalizer(normalizer, steps);
        char? replacement = null;
        var scheme = PrependScheme.Never;
        var split = false;
        if (root.TryGetProperty("pre_tokenizer", out var pre) && pre.ValueKind != JsonValueKind.Null)
        {
            var preType = TokenizerJsonReader.Required(pre, "type").GetString();
            if (preType != "Metaspace")
                throw new NotSupportedException($"pre_tokenizer \"{preType}\" in a SentencePiece-style tokenizer.json (expected Metaspace or none)");
            (replacement, scheme) = ReadMetaspace(pre);
            split = !pre.TryGetProperty("split", out var s) || s.ValueKind != JsonValueKind.False;
        }
        return new MetaspaceNormalization(steps, replacement, scheme, split);
    }

    private static void ReadNormalizer(JsonElement normalizer, List<(string?, string?, string?)> steps)
    {
        if (normalizer.ValueKind == JsonValueKind.Null)
            return;
        var type = TokenizerJsonReader.Required(normalizer, "type").GetString();
        switch (type)
        {
            case "Sequence":
                foreach (var inner in TokenizerJsonReader.Required(normalizer, "normalizers").EnumerateArray())
                    ReadNormalizer(inner, steps);
                break;
            case "Prepend":
                steps.Add((TokenizerJsonReader.Required(normalizer, "prepend").GetString()!, null, null));
                break;
            case "Replace":
                steps.Add((null, LiteralPattern(normalizer), TokenizerJsonReader.Required(normalizer, "content").GetString()!));
                break;
            default:
                throw new NotSupportedException($"normalizer \"{type}\"");
        }
    }

    private static List<DecoderStep> ReadDecoder(JsonElement decoder)
    {
        var steps = new List<DecoderStep>();
        void Read(JsonElement d)
        {
            var type = TokenizerJsonReader.Required(d, "type").GetString();
            switch (type)
            {
                case "Sequence":
                    foreach (var inner in TokenizerJsonReader.Required(d, "decoders").EnumerateArray())
                        Read(inner);
                    break;
                case "Replace":
                    steps.Add(new DecoderStep.Replace(LiteralPattern(d), TokenizerJsonReader.Required(d, "content").GetString()!));
                    break;
                case "ByteFallback":
                    steps.Add(new DecoderStep.ByteFallback());
                    break;
                case "Fuse":
                    steps.Add(new DecoderStep.Fuse());
                    break;
                case "Strip":
                    var content = TokenizerJsonReader.Required(d, "content").GetString()!;
                    if (content.Length != 1)
                        throw new NotSupportedException($"Strip decoder content \"{content}\"");
                    steps.Add(new DecoderStep.Strip(content[0], TokenizerJsonReader.Required(d, "start").GetInt32(), TokenizerJsonReader.Required(d, "stop").GetInt32()));
                    break;
                case "Metaspace":
                    var (replacement, scheme) = ReadMetaspace(d);
                    steps.Add(new DecoderStep.Metaspace(replacement, scheme));
                    break;
                default:
                    throw new NotSupportedException($"decoder \"{type}\"");
            }
        }
        if (decoder.ValueKind == JsonValueKind.Object)
            Read(decoder);
        return steps;
    }

    /// <summary>Metaspace's replacement and prepend_scheme; files older than prepend_scheme say add_prefix_space instead.</summary>
    private static (char Replacement, PrependScheme Scheme) ReadMetaspace(JsonElement m)
    {
        var replacement = m.TryGetProperty("replacement", out var r) ? r.GetString()! : "\u2581";
        if (replacement.Length != 1)
            throw new NotSupportedException($"Metaspace replacement \"{replacement}\"");
        PrependScheme scheme;
        if (m.TryGetProperty("prepend_scheme", out var ps) && ps.ValueKind == JsonValueKind.String)
        {
            scheme = ps.GetString() switch
            {
                "always" => PrependScheme.Always,
                "first" => PrependScheme.First,
                "never" => PrependScheme.Never,
                var other => throw new NotSupportedException($"Metaspace prepend_scheme \"{other}\""),
            };
        }
        else
        {
            scheme = m.TryGetProperty("add_prefix_space", out var aps) && aps.ValueKind == JsonValueKind.False ? PrependScheme.Never : PrependScheme.Always;
        }
        return (replacement[0], scheme);
    }

    private static string LiteralPattern(JsonElement step)
    {
        var pattern = TokenizerJsonReader.Required(step, "pattern");
        return pattern.TryGetProperty("String", out var s)
            ? s.GetString()!
            : throw new NotSupportedException($"{TokenizerJsonReader.Required(step, "type").GetString()} with a regex pattern");
    }

    private static bool Flag(JsonElement obj, string name) => obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;
}
