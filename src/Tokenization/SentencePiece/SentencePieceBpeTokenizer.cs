using System.Text;
using System.Text.Unicode;

namespace InferenceServer.Tokenization;

/// <summary>
/// A SentencePiece BPE tokenizer (<c>tokenizer.model</c>: Llama-2, Mistral, TinyLlama) with the behaviour of
/// transformers' <c>LlamaTokenizerFast</c>: special-token strings in the text become their ids; with
/// <c>legacy=false</c> only text at the very start gets the dummy-prefix ▁ (text after a special token does
/// not), with <c>legacy=true</c> every text chunk gets one, as encoding each chunk with sentencepiece would.
/// With <c>legacy=false</c> text that already starts with a space gets no second ▁ ("▁x", as the fast tokenizer's
/// Metaspace with prepend_scheme "first" does); with <c>legacy=true</c> it keeps sentencepiece's "▁▁x".
/// </summary>
public sealed class SentencePieceBpeTokenizer : ITokenizer, ITokenBytes
{
    private const char Whitespace = '\u2581'; // ▁, SentencePiece's visible space

    private readonly SentencePieceModel _model;
    private readonly string[] _idToPiece;
    private readonly SentencePieceType[] _types;
    private readonly Dictionary<string, int> _pieceToId = new(StringComparer.Ordinal);
    private readonly Dictionary<int, AddedToken> _addedById = [];
    private readonly SentencePieceBpeEncoder _encoder;
    private readonly AddedTokenSplitter _addedTokens;
    private readonly HashSet<int> _specialIds = [];
    private readonly bool _addBos;
    private readonly bool _addEos;
    private readonly bool _legacy;

    /// <param name="model">The parsed tokenizer.model.</param>
    /// <param name="addedTokens">Extra tokens from tokenizer_config.json's added_tokens_decoder (may repeat model pieces).</param>
    /// <param name="addBos">add_bos_token (Llama default true).</param>
    /// <param name="addEos">add_eos_token (default false).</param>
    /// <param name="legacy">transformers' <c>legacy</c> flag; see the class summary.</param>
    public SentencePieceBpeTokenizer(
        SentencePieceModel model,
        IEnumerable<AddedToken>? addedTokens = null,
        bool addBos = true,
        bool addEos = false,
        bool legacy = false)
    {
        if (model.ModelType != SentencePieceModel.BpeModelType)
            throw new NotSupportedException($"only SentencePiece BPE models are supported (model_type {model.ModelType})");
        if (model.PrecompiledCharsmapLength > 0)
            throw new NotSupportedException($"SentencePiece normalizer '{model.NormalizerName}' (precompiled charsmap) is not supported; Llama-style models use 'identity'");

        _model = model;
        _addBos = addBos && model.BosId >= 0;
        _addEos = addEos && model.EosId >= 0;
        _legacy = legacy;

        var extra = addedTokens?.ToList() ?? [];
        var size = Math.Max(model.Pieces.Count, extra.Count == 0 ? 0 : extra.Max(t => t.Id) + 1);
        _idToPiece = new string[size];
        _types = new SentencePieceType[size];
        var mergeable = new Dictionary<string, int>(StringComparer.Ordinal);
        var byteIds = Enumerable.Repeat(-1, 256).ToArray();
        var splitOn = new List<AddedToken>();
        for (var id = 0; id < model.Pieces.Count; id++)
        {
            var (piece, _, type) = model.Pieces[id];
            _idToPiece[id] = piece;
            _types[id] = type;
            _pieceToId.TryAdd(piece, id);
            switch (type)
            {
                case SentencePieceType.Normal or SentencePieceType.UserDefined:
                    mergeable.TryAdd(piece, id);
                    break;
                case SentencePieceType.Byte when TryParseBytePiece(piece, out var value):
                    byteIds[value] = id;
                    break;
                case SentencePieceType.Control or SentencePieceType.Unknown:
                    // transformers registers unk/bos/eos as added special tokens, so "<s>" in text is id 1.
                    _specialIds.Add(id);
                    if (piece.Length > 0)
                        splitOn.Add(new AddedToken(piece, id, Special: true));
                    break;
            }
        }
        foreach (var token in extra)
        {
            _idToPiece[token.Id] ??= token.Content;
            _pieceToId.TryAdd(token.Content, token.Id);
            _addedById[token.Id] = token;
            if (token.Special)
                _specialIds.Add(token.Id);
            if (!splitOn.Any(t => t.Content == token.Content))
                splitOn.Add(token);
        }
        for (var id = 0; id < size; id++)
            _idToPiece[id] ??= "";

        _encoder = new SentencePieceBpeEncoder(model, mergeable, byteIds);
        _addedTokens = new AddedTokenSplitter(splitOn);
        SpecialTokenIds = _specialIds;
    }

    public static SentencePieceBpeTokenizer FromFile(string path, IEnumerable<AddedToken>? addedTokens = null,
        bool addBos = true, bool addEos = false, bool legacy = false)
    {
        var model = SentencePieceModel.Load(path);
        try
        {
            return new SentencePieceBpeTokenizer(model, addedTokens, addBos, addEos, legacy);
        }
        catch (NotSupportedException e)
        {
            throw new TokenizerLoadException(path, e.Message, e);
        }
    }

    public SentencePieceModel Model => _model;

    public int VocabSize => _idToPiece.Length;

    public int? BosTokenId => _model.BosId >= 0 ? _model.BosId : null;

    public int? EosTokenId => _model.EosId >= 0 ? _model.EosId : null;

    public IReadOnlySet<int> SpecialTokenIds { get; }

    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true)
    {
        var ids = new List<int>(text.Length / 3 + 2);
        if (addSpecialTokens && _addBos)
            ids.Add(_model.BosId);
        if (!_legacy)
            text = text.Replace(Whitespace, ' '); // transformers does this so ▁ in input reads as a space
        var segments = _addedTokens.Split(text);
        for (var i = 0; i < segments.Count; i++)
        {
            var segment = segments[i];
            if (segment.IsToken)
            {
                ids.Add(segment.Token!.Id);
                continue;
            }
            var dummyPrefix = _model.AddDummyPrefix && (_legacy || (i == 0 && !segment.Text!.StartsWith(' ')));
            _encoder.Encode(Normalize(segment.Text!, dummyPrefix), ids);
        }
        if (addSpecialTokens && _addEos)
            ids.Add(_model.EosId);
        return ids;
    }

    /// <summary>
    /// SentencePiece's normalizer for the <c>identity</c> rule set: optional whitespace squeezing, the dummy
    /// prefix, and spaces shown as ▁.
    /// </summary>
    private string Normalize(string text, bool dummyPrefix)
    {
        if (_model.RemoveExtraWhitespaces)
            text = SqueezeSpaces(text);
        if (text.Length == 0)
            return text;
        if (dummyPrefix)
            text = _model.TreatWhitespaceAsSuffix ? text + " " : " " + text;
        return _model.EscapeWhitespaces ? text.Replace(' ', Whitespace) : text;
    }

    private static string SqueezeSpaces(string text)
    {
        var builder = new StringBuilder(text.Length);
        foreach (var c in text.AsSpan().Trim(' '))
        {
            if (c == ' ' && builder.Length > 0 && builder[^1] == ' ')
                continue;
            builder.Append(c);
        }
        return builder.ToString();
    }

    /// <summary>
    /// Like transformers' Llama decoder: ▁ becomes a space, runs of byte pieces are reassembled as UTF-8 (a run
    /// that isn't valid UTF-8 gives one U+FFFD per byte), and the dummy-prefix space of the first token is removed.
    /// </summary>
    public string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = true)
    {
        var text = new StringBuilder();
        var pendingBytes = new List<byte>();
        foreach (var id in ids)
        {
            if (id < 0 || id >= _idToPiece.Length || (skipSpecialTokens && _specialIds.Contains(id)))
                continue;
            if (_types[id] == SentencePieceType.Byte && TryParseBytePiece(_idToPiece[id], out var value))
            {
                pendingBytes.Add((byte)value);
                continue;
            }
            FlushBytes(pendingBytes, text);
            text.Append(_addedById.ContainsKey(id) ? _idToPiece[id] : _idToPiece[id].Replace(Whitespace, ' '));
        }
        FlushBytes(pendingBytes, text);
        if (_model.AddDummyPrefix && text.Length > 0 && text[0] == ' ')
            text.Remove(0, 1);
        return text.ToString();
    }

    private static void FlushBytes(List<byte> bytes, StringBuilder text)
    {
        if (bytes.Count == 0)
            return;
        var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes);
        if (Utf8.IsValid(span))
            text.Append(Encoding.UTF8.GetString(span));
        else
            text.Append('\uFFFD', bytes.Count);
        bytes.Clear();
    }

    public string? IdToToken(int id) => id >= 0 && id < _idToPiece.Length ? _idToPiece[id] : null;

    public byte[]? TokenBytes(int id)
    {
        if (id < 0 || id >= _idToPiece.Length || _specialIds.Contains(id) || _idToPiece[id].Length == 0)
            return null;
        if (_types[id] == SentencePieceType.Byte && TryParseBytePiece(_idToPiece[id], out var value))
            return [(byte)value];
        return Encoding.UTF8.GetBytes(_addedById.ContainsKey(id) ? _idToPiece[id] : _idToPiece[id].Replace(Whitespace, ' '));
    }

    public int? TokenToId(string token) => _pieceToId.TryGetValue(token, out var id) ? id : null;

    /// <summary>Parses "&lt;0x0A&gt;" to 0x0A.</summary>
    private static bool TryParseBytePiece(string piece, out int value)
    {
        value = 0;
        return piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>' &&
               int.TryParse(piece.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out value);
    }
}
