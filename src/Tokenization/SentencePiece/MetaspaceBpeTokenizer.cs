using System.Text.Json;

namespace InferenceServer.Tokenization;

/// <summary>
/// A SentencePiece-style BPE tokenizer loaded from tokenizer.json alone (Llama-2, Mistral and TinyLlama checkpoints
/// that ship no tokenizer.model), matching HF tokenizers: added tokens are cut out first; each piece of text between
/// them is normalized (▁ for spaces, a leading ▁ as the file says) and merged by rank, with characters outside the
/// vocabulary as &lt;0xXX&gt; byte pieces; decoding runs the file's decoder chain (▁ → space, byte pieces → UTF-8,
/// the first leading space stripped).
/// </summary>
public sealed class MetaspaceBpeTokenizer : ITokenizer, ITokenBytes
{
    private readonly MetaspaceJsonReader.Parts _parts;
    private readonly string[] _idToToken;
    private readonly HashSet<int> _specialIds;
    private readonly AddedTokenSplitter _addedTokens;
    private readonly SpecialTokenTemplate _template;

    private MetaspaceBpeTokenizer(MetaspaceJsonReader.Parts parts, TokenizerConfig config)
    {
        _parts = parts;
        var added = parts.AddedTokens.ToList();
        added.AddRange(config.AddedTokens.Where(c => added.All(a => a.Id != c.Id)));
        foreach (var token in added)
            parts.Vocab.TryAdd(token.Content, token.Id);
        _idToToken = new string[parts.Vocab.Values.DefaultIfEmpty(-1).Max() + 1];
        foreach (var (token, id) in parts.Vocab)
            _idToToken[id] ??= token;
        foreach (var token in added)
            _idToToken[token.Id] = token.Content;
        for (var id = 0; id < _idToToken.Length; id++)
            _idToToken[id] ??= "";
        _specialIds = added.Where(t => t.Special).Select(t => t.Id).ToHashSet();
        _addedTokens = new AddedTokenSplitter(added);

        BosTokenId = config.BosToken is { } bos ? TokenToId(bos) : null;
        EosTokenId = config.EosToken is { } eos ? TokenToId(eos) : null;
        // transformers' LlamaTokenizerFast rebuilds the post-processor from add_bos_token/add_eos_token when the
        // config states them; otherwise tokenizer.json's template stands.
        var fromFile = parts.Template ?? SpecialTokenTemplate.None;
        _template = config.AddBosToken is null && config.AddEosToken is null
            ? fromFile
            : new SpecialTokenTemplate(
                config.AddBosToken == true && BosTokenId is { } b ? [b] : [],
                config.AddEosToken == true && EosTokenId is { } e ? [e] : []);
        if (BosTokenId is null && fromFile.Prefix.Length > 0)
            BosTokenId = fromFile.Prefix[0];
    }

    /// <summary>True when the tokenizer.json at <paramref name="path"/> is of the SentencePiece kind this class reads.</summary>
    public static bool IsMetaspaceFile(string path)
    {
        using var json = JsonDocument.Parse(File.ReadAllBytes(path));
        return MetaspaceJsonReader.IsMetaspace(json.RootElement);
    }

    public static MetaspaceBpeTokenizer FromFile(string tokenizerJsonPath, TokenizerConfig? config = null)
    {
        if (!File.Exists(tokenizerJsonPath))
            throw new TokenizerLoadException(tokenizerJsonPath, "file not found");
        try
        {
            using var json = JsonDocument.Parse(File.ReadAllBytes(tokenizerJsonPath));
            return FromJson(json.RootElement, config);
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidDataException or InvalidOperationException
                                       or KeyNotFoundException or IndexOutOfRangeException)
        {
            throw new TokenizerLoadException(tokenizerJsonPath, $"malformed tokenizer.json: {e.Message}", e);
        }
        catch (NotSupportedException e)
        {
            throw new TokenizerLoadException(tokenizerJsonPath, $"unsupported tokenizer.json feature: {e.Message}", e);
        }
    }

    /// <summary>Builds from a parsed tokenizer.json; throws NotSupportedException/FormatException for what it cannot read.</summary>
    public static MetaspaceBpeTokenizer FromJson(JsonElement root, TokenizerConfig? config = null) =>
        new(MetaspaceJsonReader.Read(root), config ?? TokenizerConfig.Empty);

    public int VocabSize => _idToToken.Length;

    public int? BosTokenId { get; }

    public int? EosTokenId { get; }

    public IReadOnlySet<int> SpecialTokenIds => _specialIds;

    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true)
    {
        var ids = new List<int>(text.Length / 3 + 2);
        if (addSpecialTokens)
            ids.AddRange(_template.Prefix);
        var words = new List<string>();
        var segments = _addedTokens.Split(text);
        for (var i = 0; i < segments.Count; i++)
        {
            var segment = segments[i];
            if (segment.IsToken)
            {
                ids.Add(segment.Token!.Id);
                continue;
            }
            words.Clear();
            _parts.Normalization.Apply(segment.Text!, atTextStart: i == 0, words);
            foreach (var word in words)
                _parts.Bpe.Encode(word, ids);
        }
        if (addSpecialTokens)
            ids.AddRange(_template.Suffix);
        return ids;
    }

    public string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = true)
    {
        var tokens = new List<string>(ids.Count);
        foreach (var id in ids)
        {
            if (id < 0 || id >= _idToToken.Length || (skipSpecialTokens && _specialIds.Contains(id)))
                continue;
            tokens.Add(_idToToken[id]);
        }
        foreach (var step in _parts.Decoder)
            tokens = step.Apply(tokens);
        return string.Concat(tokens);
    }

    public string? IdToToken(int id) => id >= 0 && id < _idToToken.Length ? _idToToken[id] : null;

    public int? TokenToId(string token) => _parts.Vocab.TryGetValue(token, out var id) ? id : null;

    public byte[]? TokenBytes(int id)
    {
        if (id < 0 || id >= _idToToken.Length || _specialIds.Contains(id) || _idToToken[id].Length == 0)
            return null;
        var token = _idToToken[id];
        if (token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>' &&
            byte.TryParse(token.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out var b))
            return [b];
        return System.Text.Encoding.UTF8.GetBytes(token.Replace('\u2581', ' '));
    }
}
