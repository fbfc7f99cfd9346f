
namespace InferenceServer.StructuredOutputs;

/// <summary>
/// One request's position in a <see cref="TokenGrammar"/>: which tokens may come next, and the step on the sampled
/// one. End-of-sequence tokens are not part of the grammar: the caller allows them exactly when <see cref="CanEnd"/>.
/// Not thread-safe (one per request, used by the engine thread).
/// </summary>
/// <remarks>
/// Guarantee (with a tokenizer where every byte is a token, as byte-level BPE and SentencePiece with byte fallback
/// are): with <c>remainingTokens</c> given, every allowed token leaves the output at most
/// <c>remainingTokens - 2</c> tokens from complete, so a request whose budget at the start covers
/// <see cref="TokenGrammar.MinimumTokens"/> + 1 always ends with a complete output followed by EOS.
/// </remarks>
public sealed class GrammarMatcher
{
    private readonly TokenGrammar _grammar;
    private int _state;

    internal GrammarMatcher(TokenGrammar grammar)
    {
        _grammar = grammar;
        _state = grammar.StartState;
    }

    public TokenGrammar Grammar => _grammar;

    /// <summary>The output so far is a complete sentence of the language: end-of-sequence may follow.</summary>
    public bool CanEnd => _grammar.IsAccepting(_state);

    /// <summary>The output is complete and nothing may follow it (only end-of-sequence is allowed).</summary>
    public bool IsFinished => CanEnd && _grammar.Mask(_state, null).All(w => w == 0);

    /// <summary>Fewest tokens (single bytes) still needed to complete the output.</summary>
    public int TokensToComplete => _grammar.Distance(_state);

    /// <summary>Moves past <paramref name="tokenId"/>; false (and no move) when the token is not allowed here.</summary>
    public bool TryAdvance(int tokenId)
    {
        if (_grammar.Vocabulary.Bytes(tokenId) is not { } bytes) return false;
        int next = _grammar.Step(_state, bytes);
        if (next == LazyDfa.Dead) return false;
        _state = next;
        return true;
    }

    /// <summary>
    /// Writes the bitmask of allowed tokens (bit i of word i/32 = token i; end-of-sequence tokens are left 0) into
    /// <paramref name="mask"/>, which should hold <see cref="TokenVocabulary.MaskWords"/> words (the first words of a
    /// longer mask are written; a shorter one gets the ids it has room for).
    /// </summary>
    /// <param name="remainingTokens">Tokens the request may still generate, this one included; null = no limit. When
    /// set, tokens after which the output could not be completed (with one token left for EOS) are excluded.</param>
    public void WriteAllowed(Span<uint> mask, int? remainingTokens = null)
    {
        var allowed = _grammar.Mask(_state, remainingTokens is int r ? Math.Max(r - 2, 0) : null);
        int n = Math.Min(allowed.Length, mask.Length);   // a wider mask's extra ids stay as they are (not allowed)
        allowed.AsSpan(0, n).CopyTo(mask);
    }

    /// <summary>Whether <paramref name="tokenId"/> is allowed next (ignoring any token budget).</summary>
    public bool IsAllowed(int tokenId)
    {
        var mask = _grammar.Mask(_state, null);
        return tokenId >= 0 && tokenId < _grammar.Vocabulary.Size && (mask[tokenId >> 5] & (1u << (tokenId & 31))) != 0;
    }
}
