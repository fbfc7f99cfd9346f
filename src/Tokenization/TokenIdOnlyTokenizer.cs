namespace InferenceServer.Tokenization;

/// <summary>
/// vLLM's <c>--skip-tokenizer-init</c>: a model served on token ids alone (benchmarks on dummy weights from a bare
/// config.json). Text cannot be encoded, and decoding yields no text; ids and logprobs flow as usual.
/// </summary>
public sealed class TokenIdOnlyTokenizer(int vocabSize, int? bos, int? eos) : ITokenizer
{
    public int VocabSize => vocabSize;
    public int? BosTokenId => bos;
    public int? EosTokenId => eos;
    public IReadOnlySet<int> SpecialTokenIds { get; } = new HashSet<int>();

    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true) =>
        throw new NotSupportedException("This model was started without a tokenizer (--skip-tokenizer-init); send prompts as token ids.");

    public string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = true) => "";

    public string? IdToToken(int id) => null;

    public int? TokenToId(string token) => null;
}
