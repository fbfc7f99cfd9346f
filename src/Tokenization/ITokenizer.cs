namespace InferenceServer.Tokenization;

/// <summary>
/// Text ⇄ token ids, with the behaviour of HF transformers' tokenizer for the same files.
/// Implementations: SentencePiece BPE (<c>tokenizer.model</c>) and byte-level BPE (<c>tokenizer.json</c>).
/// </summary>
public interface ITokenizer
{
    /// <summary>Number of ids the tokenizer can produce, added tokens included.</summary>
    int VocabSize { get; }

    int? BosTokenId { get; }

    int? EosTokenId { get; }

    /// <summary>Ids of special (control) tokens, which <c>skipSpecialTokens</c> drops when decoding.</summary>
    IReadOnlySet<int> SpecialTokenIds { get; }

    /// <summary>
    /// Encodes text. Added/special-token strings inside the text (<c>&lt;s&gt;</c>, <c>&lt;|im_start|&gt;</c>)
    /// become their ids, as transformers does. <paramref name="addSpecialTokens"/> adds BOS/EOS the way
    /// tokenizer_config.json's <c>add_bos_token</c>/<c>add_eos_token</c> say.
    /// </summary>
    IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true);

    /// <summary>Decodes ids to text; invalid UTF-8 (a partial character) becomes U+FFFD.</summary>
    string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = true);

    /// <summary>The vocabulary string of one id (e.g. "▁the", "Ġthe", "&lt;0x0A&gt;"), or null when out of range.</summary>
    string? IdToToken(int id);

    int? TokenToId(string token);
}
