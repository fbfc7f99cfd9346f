using System.Text.Json;

namespace InferenceServer.Tokenization;

/// <summary>
/// Reads an HF <c>tokenizer.json</c> whose model is byte-level BPE (GPT-2/OPT, Qwen2, Llama-3 styles) into the
/// parts of a <see cref="ByteLevelBpeTokenizer"/>. Anything we would silently get wrong is rejected with
/// <see cref="NotSupportedException"/> instead.
/// </summary>
internal static class TokenizerJsonReader
{
    public sealed record Parts(
        RankedBpe Bpe,
        Dictionary<string, int> Vocab,
        List<AddedToken> AddedTokens,
        bool Nfc,
        List<PreTokenizerStep> PreTokenizer,
        SpecialTokenTemplate? Template);

    public static Parts Read(JsonElement root)
    {
        var added = new List<AddedToken>();
        if (root.TryGetProperty("added_tokens", out var addedJson) && addedJson.ValueKind == JsonValueKind.Array)
        {
            foreach (var token in addedJson.EnumerateArray())
                added.Add(TokenizerConfig.ReadAddedToken(token, Required(token, "id").GetInt32()));
        }

        var model = Required(root, "model");
        var type = model.TryGetProperty("type", out var t) ? t.GetString() : "BPE";
        if (type != "BPE")
            throw new NotSupportedException($"model type \"{type}\" (only BPE is supported)");
        foreach (var affix in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
        {
            if (model.TryGetProperty(affix, out var v) && v.ValueKind == JsonValueKind.String && v.GetString()!.Length > 0)
                throw new NotSupportedException($"BPE {affix} \"{v.GetString()}\"");
        }

        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in Required(model, "vocab").EnumerateObject())
            vocab[entry.Name] = entry.Value.GetInt32();
        var merges = new List<(string, string)>();
        foreach (var merge in Required(model, "merges").EnumerateArray())
            merges.Add(ReadMerge(merge));
        int? unkId = model.TryGetProperty("unk_token", out var unk) && unk.ValueKind == JsonValueKind.String &&
                     vocab.TryGetValue(unk.GetString()!, out var u) ? u : null;
        var ignoreMerges = model.TryGetProperty("ignore_merges", out var im) && im.ValueKind == JsonValueKind.True;

        var tokenIds = new Dictionary<string, int>(vocab, StringComparer.Ordinal);
        foreach (var token in added)
            tokenIds[token.Content] = token.Id;

        var preTokenizer = new List<PreTokenizerStep>();
        var hasByteLevel = false;
        if (root.TryGetProperty("pre_tokenizer", out var pre) && pre.ValueKind == JsonValueKind.Object)
            ReadPreTokenizer(pre, preTokenizer, ref hasByteLevel);
        if (!hasByteLevel)
            throw new NotSupportedException("pre_tokenizer without ByteLevel (not a byte-level BPE tokenizer)");
        RequireByteLevelDecoder(root);

        return new Parts(
            new RankedBpe(vocab, merges, ignoreMerges, unkId),
            tokenIds,
            added,
            root.TryGetProperty("normalizer", out var normalizer) && ReadNormalizer(normalizer),
            preTokenizer,
            root.TryGetProperty("post_processor", out var post) ? ReadPostProcessor(post, tokenIds) : null);
    }

    internal static JsonElement Required(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var value)
            ? value
            : throw new FormatException($"missing \"{name}\"");

    /// <summary>Merges are "a b" strings in older files and ["a", "b"] pairs in newer ones.</summary>
    internal static (string, string) ReadMerge(JsonElement merge)
    {
        if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2)
            return (merge[0].GetString()!, merge[1].GetString()!);
        if (merge.ValueKind == JsonValueKind.String)
        {
            var parts = merge.GetString()!.Split(' ');
            if (parts.Length == 2)
                return (parts[0], parts[1]);
        }
        throw new FormatException($"malformed merge {merge.GetRawText()}");
    }

    /// <summary>True when the normalizer is NFC; none (null) is false; other normalizers are not supported.</summary>
    private static bool ReadNormalizer(JsonElement normalizer)
    {
        if (normalizer.ValueKind == JsonValueKind.Null)
            return false;
        var type = Required(normalizer, "type").GetString();
        return type switch
        {
            "NFC" => true,
            "Sequence" => Required(normalizer, "normalizers").EnumerateArray().Select(ReadNormalizer).ToList() is var all && all.Any(x => x),
            _ => throw new NotSupportedException($"normalizer \"{type}\""),
        };
    }

    private static void ReadPreTokenizer(JsonElement pre, List<PreTokenizerStep> steps, ref bool hasByteLevel)
    {
        var type = Required(pre, "type").GetString();
        switch (type)
        {
            case "Sequence":
                foreach (var inner in Required(pre, "pretokenizers").EnumerateArray())
                    ReadPreTokenizer(inner, steps, ref hasByteLevel);
                break;
            case "ByteLevel":
                hasByteLevel = true;
                steps.Add(new ByteLevelStep(Flag(pre, "add_prefix_space", false), Flag(pre, "use_regex", true)));
                break;
            case "Split":
                if (Flag(pre, "invert", false))
                    throw new NotSupportedException("Split pre-tokenizer with invert=true");
                var behavior = Required(pre, "behavior").GetString() switch
                {
                    "Isolated" => SplitBehavior.Isolated,
                    "Removed" => SplitBehavior.Removed,
                    "MergedWithPrevious" => SplitBehavior.MergedWithPrevious,
                    "MergedWithNext" => SplitBehavior.MergedWithNext,
                    var other => throw new NotSupportedException($"Split behavior \"{other}\""),
                };
                var pattern = Required(pre, "pattern");
                steps.Add(new SplitStep(pattern.TryGetProperty("Regex", out var regex)
                    ? new SplitPattern(regex.GetString()!, behavior)
                    : SplitPattern.Literal(Required(pattern, "String").GetString()!, behavior)));
                break;
            default:
                throw new NotSupportedException($"pre_tokenizer \"{type}\"");
        }
    }

    private static void RequireByteLevelDecoder(JsonElement root)
    {
        if (!root.TryGetProperty("decoder", out var decoder) || decoder.ValueKind == JsonValueKind.Null)
            throw new NotSupportedException("no decoder (expected ByteLevel)");
        var type = Required(decoder, "type").GetString();
        var ok = type == "ByteLevel" ||
                 (type == "Sequence" && Required(decoder, "decoders").EnumerateArray().Any(d => Required(d, "type").GetString() == "ByteLevel"));
        if (!ok)
            throw new NotSupportedException($"decoder \"{type}\" (expected ByteLevel)");
    }

    /// <summary>The BOS/EOS template, or null when the post-processor adds nothing (ByteLevel, none).</summary>
    internal static SpecialTokenTemplate? ReadPostProcessor(JsonElement post, Dictionary<string, int> tokenIds)
    {
        if (post.ValueKind == JsonValueKind.Null)
            return null;
        var type = Required(post, "type").GetString();
        switch (type)
        {
            case "ByteLevel":
                return null;
            case "Sequence":
                return Required(post, "processors").EnumerateArray()
                    .Select(p => ReadPostProcessor(p, tokenIds)).LastOrDefault(p => p is not null);
            case "RobertaProcessing" or "BertProcessing":
                return new SpecialTokenTemplate([Required(post, "cls")[1].GetInt32()], [Required(post, "sep")[1].GetInt32()]);
            case "TemplateProcessing":
                return ReadTemplate(post);
            default:
                throw new NotSupportedException($"post_processor \"{type}\"");
        }
    }

    private static SpecialTokenTemplate ReadTemplate(JsonElement post)
    {
        var specials = Required(post, "special_tokens");
        var prefix = new List<int>();
        var suffix = new List<int>();
        var seenSequence = false;
        foreach (var item in Required(post, "single").EnumerateArray())
        {
            if (item.TryGetProperty("Sequence", out _))
            {
                seenSequence = true;
                continue;
            }
            var name = Required(Required(item, "SpecialToken"), "id").GetString()!;
            var ids = Required(Required(specials, name), "ids").EnumerateArray().Select(e => e.GetInt32());
            (seenSequence ? suffix : prefix).AddRange(ids);
        }
        return new SpecialTokenTemplate(prefix.ToArray(), suffix.ToArray());
    }

    private static bool Flag(JsonElement obj, string name, bool fallback) =>
        obj.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : fallback;
}
