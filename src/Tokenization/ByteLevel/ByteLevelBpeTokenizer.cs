using System.Text;
using System.Text.Json;

namespace InferenceServer.Tokenization;

/// <summary>
/// A byte-level BPE tokenizer loaded from an HF <c>tokenizer.json</c> (GPT-2/OPT, Qwen2/3, Llama-3), matching
/// HF tokenizers: added tokens are cut out first, the rest is normalized (NFC or nothing), pre-tokenized (split
/// regex, then bytes written as GPT-2's printable alphabet) and merged by rank; decoding maps the alphabet back
/// to bytes and reads them as UTF-8, with U+FFFD for invalid sequences.
/// </summary>
public sealed class ByteLevelBpeTokenizer : ITokenizer, ITokenBytes
{
    private readonly RankedBpe _bpe;
    private readonly Dictionary<string, int> _tokenToId;
    private readonly string[] _idToToken;
    private readonly HashSet<int> _addedIds;
    private readonly HashSet<int> _specialIds;
    private readonly AddedTokenSplitter _addedTokens;
    private readonly bool _nfc;
    private readonly List<PreTokenizerStep> _preTokenizer;
    private readonly SpecialTokenTemplate _template;

    private ByteLevelBpeTokenizer(TokenizerJsonReader.Parts parts, TokenizerConfig config)
    {
        _bpe = parts.Bpe;
        _nfc = parts.Nfc;
        _preTokenizer = parts.PreTokenizer;
        _tokenToId = parts.Vocab;

        // added_tokens_decoder of tokenizer_config.json can name tokens tokenizer.json lacks; tokenizer.json wins.
        var added = parts.AddedTokens.ToList();
        added.AddRange(config.AddedTokens.Where(c => added.All(a => a.Id != c.Id)));
        foreach (var token in added)
            _tokenToId.TryAdd(token.Content, token.Id);

        _idToToken = new string[_tokenToId.Values.DefaultIfEmpty(-1).Max() + 1];
        foreach (var (token, id) in _tokenToId)
            _idToToken[id] ??= token;
        foreach (var token in added)
            _idToToken[token.Id] = token.Content;
        for (var id = 0; id < _idToToken.Length; id++)
            _idToToken[id] ??= "";

        _addedIds = added.Select(t => t.Id).ToHashSet();
        _specialIds = added.Where(t => t.Special).Select(t => t.Id).ToHashSet();
        _addedTokens = new AddedTokenSplitter(added);

        BosTokenId = config.BosToken is { } bos ? TokenToId(bos) : null;
        EosTokenId = config.EosToken is { } eos ? TokenToId(eos) : null;
        // Without a template in tokenizer.json, fall back to tokenizer_config.json's add_bos_token/add_eos_token.
        _template = parts.Template ?? new SpecialTokenTemplate(
            config.AddBosToken == true && BosTokenId is { } b ? [b] : [],
            config.AddEosToken == true && EosTokenId is { } e ? [e] : []);
        if (BosTokenId is null && _template.Prefix.Length > 0)
            BosTokenId = _template.Prefix[0];
    }

    /// <summary>Loads tokenizer.json; <paramref name="config"/> supplies BOS/EOS names and added-token extras.</summary>
    public static ByteLevelBpeTokenizer FromFile(string tokenizerJsonPath, TokenizerConfig? config = null)
    {
        if (!File.Exists(tokenizerJsonPath))
            throw new TokenizerLoadException(tokenizerJsonPath, "file not found");
        try
        {
            using var json = JsonDocument.Parse(File.ReadAllBytes(tokenizerJsonPath));
            return new ByteLevelBpeTokenizer(TokenizerJsonReader.Read(json.RootElement), config ?? TokenizerConfig.Empty);
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

    public int VocabSize => _idToToken.Length;

    public int? BosTokenId { get; }

    public int? EosTokenId { get; }

    public IReadOnlySet<int> SpecialTokenIds => _specialIds;

    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true)
    {
        var ids = new List<int>(text.Length / 3 + 2);
        if (addSpecialTokens)
            ids.AddRange(_template.Prefix);
        var pieces = new List<string>();
        var next = new List<string>();
        foreach (var segment in _addedTokens.Split(text))
        {
            if (segment.IsToken)
            {
                ids.Add(segment.Token!.Id);
                continue;
            }
            pieces.Clear();
            pieces.Add(_nfc ? Nfc.Normalize(segment.Text!) : segment.Text!);
            foreach (var step in _preTokenizer)
            {
                next.Clear();
                foreach (var piece in pieces)
                    step.Apply(piece, next);
                (pieces, next) = (next, pieces);
            }
            foreach (var word in pieces)
                _bpe.Encode(word, ids);
        }
        if (addSpecialTokens)
            ids.AddRange(_template.Suffix);
        return ids;
    }

    public string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = true)
    {
        var bytes = new List<byte>(ids.Count * 4);
        foreach (var id in ids)
        {
            if (id < 0 || id >= _idToToken.Length || (skipSpecialTokens && _specialIds.Contains(id)))
                continue;
            var token = _idToToken[id];
            // Like HF's ByteLevel decoder: a token outside the byte alphabet (an added token such as "<|im_start|>"
            // usually isn't) contributes its own UTF-8 bytes.
            if (_addedIds.Contains(id) || !ByteLevelAlphabet.TryDecode(token, bytes))
                bytes.AddRange(Encoding.UTF8.GetBytes(token));
        }
        return Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes));
    }

    public string? IdToToken(int id) => id >= 0 && id < _idToToken.Length ? _idToToken[id] : null;

    public byte[]? TokenBytes(int id)
    {
        if (id < 0 || id >= _idToToken.Length || _specialIds.Contains(id) || _idToToken[id].Length == 0)
            return null;
        var bytes = new List<byte>();
        if (_addedIds.Contains(id) || !ByteLevelAlphabet.TryDecode(_idToToken[id], bytes))
            return Encoding.UTF8.GetBytes(_idToToken[id]);
        return [.. bytes];
    }

    public int? TokenToId(string token) => _tokenToId.TryGetValue(token, out var id) ? id : null;
}
