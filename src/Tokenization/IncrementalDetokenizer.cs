namespace InferenceServer.Tokenization;

/// <summary>
/// Streams the text of one sequence as tokens arrive, never emitting half a UTF-8 character (vLLM's
/// detokenize_incrementally). It decodes a short window of ids twice: up to the last emitted token (prefix) and up
/// to the newest one; the difference is new text, held back while it ends in U+FFFD (an incomplete character
/// whose remaining bytes are still to come). Decoding from the window start, not from the sequence start, keeps
/// each step O(window), and decoding both strings from the same start cancels tokenizer quirks at that start
/// (SentencePiece strips the leading space of the first token).
/// </summary>
public sealed class IncrementalDetokenizer
{
    /// <summary>Tokens of context decoded before the new ones, as vLLM uses after a prompt.</summary>
    private const int PromptContextTokens = 5;

    private readonly ITokenizer _tokenizer;
    private readonly bool _skipSpecialTokens;
    private readonly List<int> _ids;
    private int _prefixOffset; // window start
    private int _readOffset;   // everything before this has been emitted

    /// <param name="tokenizer">The model's tokenizer.</param>
    /// <param name="promptIds">
    /// The prompt, when the stream continues it: the first generated token is then decoded after the prompt's last
    /// tokens, so a leading space (SentencePiece "▁he") is kept. Without it the text is that of
    /// <see cref="ITokenizer.Decode"/> over the generated ids alone.
    /// </param>
    /// <param name="skipSpecialTokens">Leave special tokens (EOS, chat markers) out of the text.</param>
    public IncrementalDetokenizer(ITokenizer tokenizer, IReadOnlyList<int>? promptIds = null, bool skipSpecialTokens = true)
    {
        _tokenizer = tokenizer;
        _skipSpecialTokens = skipSpecialTokens;
        _ids = promptIds is null ? [] : [.. promptIds];
        _readOffset = _ids.Count;
        _prefixOffset = Math.Max(_ids.Count - PromptContextTokens, 0);
    }

    /// <summary>All ids seen so far, prompt included.</summary>
    public IReadOnlyList<int> Ids => _ids;

    /// <summary>Adds one generated token and returns the text it completes (often empty for byte pieces).</summary>
    public string Append(int tokenId)
    {
        _ids.Add(tokenId);
        var prefixText = DecodeRange(_prefixOffset, _readOffset);
        var newText = DecodeRange(_prefixOffset, _ids.Count);
        if (newText.Length <= prefixText.Length || newText.EndsWith('\uFFFD'))
            return "";
        _prefixOffset = _readOffset;
        _readOffset = _ids.Count;
        return DeltaAfter(prefixText, newText);
    }

    /// <summary>Returns whatever is still held back (an incomplete character comes out as U+FFFD); call at the end.</summary>
    public string Flush()
    {
        if (_readOffset == _ids.Count)
            return "";
        var prefixText = DecodeRange(_prefixOffset, _readOffset);
        var newText = DecodeRange(_prefixOffset, _ids.Count);
        _prefixOffset = _readOffset;
        _readOffset = _ids.Count;
        return newText.Length > prefixText.Length ? DeltaAfter(prefixText, newText) : "";
    }

    private string DecodeRange(int start, int end) =>
        end <= start ? "" : _tokenizer.Decode(_ids.GetRange(start, end - start), _skipSpecialTokens);

    /// <summary>
    /// The new suffix. Normally prefixText is a prefix of newText; if a later token changed how earlier bytes
    /// decode, fall back to the part after their common prefix rather than cutting a wrong slice.
    /// </summary>
    private static string DeltaAfter(string prefixText, string newText)
    {
        if (newText.StartsWith(prefixText, StringComparison.Ordinal))
            return newText[prefixText.Length..];
        var common = newText.AsSpan().CommonPrefixLength(prefixText);
        return newText[common..];
    }
}
