using InferenceServer.Tokenization;

namespace InferenceServer.StructuredOutputs;

/// <summary>
/// A model's vocabulary as byte strings, in a trie: a constraint's allowed tokens are found by walking the trie and
/// the automaton together, so tokens sharing a prefix share the work and a dead prefix prunes its whole subtree.
/// Token ids with no bytes (special/control tokens) are never allowed by a constraint. Immutable; build one per model.
/// </summary>
public sealed class TokenVocabulary
{
    // The trie in compressed-row form: node n's children are ChildByte/ChildNode[ChildStart[n] .. ChildStart[n + 1]),
    // and the ids spelled exactly by node n are TokenIds[TokenStart[n] .. TokenStart[n + 1]). Node 0 is the root.
    internal readonly int[] ChildStart, ChildNode, TokenStart, TokenIds;
    internal readonly byte[] ChildByte;
    private readonly byte[]?[] _bytes;

    /// <param name="tokenBytes">For each id, the bytes it decodes to, or null for a token constrained text never holds.</param>
    public TokenVocabulary(IReadOnlyList<byte[]?> tokenBytes)
    {
        _bytes = [.. tokenBytes.Select(b => b is { Length: > 0 } ? b : null)];
        Size = _bytes.Length;
        var children = new List<SortedDictionary<byte, int>> { new() };
        var tokens = new List<List<int>?> { null };
        SingleByteTokens = new bool[256];
        for (int id = 0; id < _bytes.Length; id++)
        {
            if (_bytes[id] is not { Length: > 0 } bytes) continue;
            if (bytes.Length == 1) SingleByteTokens[bytes[0]] = true;
            int node = 0;
            foreach (var b in bytes)
            {
                if (!children[node].TryGetValue(b, out var next))
                {
                    next = children.Count;
                    children[node][b] = next;
                    children.Add(new());
                    tokens.Add(null);
                }
                node = next;
            }
            (tokens[node] ??= []).Add(id);
        }
        int n = children.Count;
        ChildStart = new int[n + 1];
        TokenStart = new int[n + 1];
        for (int i = 0; i < n; i++)
        {
            ChildStart[i + 1] = ChildStart[i] + children[i].Count;
            TokenStart[i + 1] = TokenStart[i] + (tokens[i]?.Count ?? 0);
        }
        ChildByte = new byte[ChildStart[n]];
        ChildNode = new int[ChildStart[n]];
        TokenIds = new int[TokenStart[n]];
        for (int i = 0; i < n; i++)
        {
            int c = ChildStart[i];
            foreach (var (b, child) in children[i]) { ChildByte[c] = b; ChildNode[c++] = child; }
            tokens[i]?.CopyTo(TokenIds, TokenStart[i]);
        }
        NodeCount = n;
    }

    /// <summary>The vocabulary of a loaded tokenizer (which must expose its token bytes, see <see cref="ITokenBytes"/>).</summary>
    /// <param name="vocabSize">The model's logits width (default: the tokenizer's): padding ids beyond the tokenizer are
    /// never allowed, and tokenizer ids beyond the model cannot be sampled, so they are left out.</param>
    public static TokenVocabulary FromTokenizer(ITokenizer tokenizer, int? vocabSize = null)
    {
        if (tokenizer is not ITokenBytes source)
            throw new NotSupportedException($"{tokenizer.GetType().Name} does not expose token bytes; structured outputs need a SentencePiece or byte-level BPE tokenizer");
        var bytes = new byte[]?[vocabSize ?? tokenizer.VocabSize];
        for (int id = 0; id < Math.Min(bytes.Length, tokenizer.VocabSize); id++) bytes[id] = source.TokenBytes(id);
        return new TokenVocabulary(bytes);
    }

    /// <summary>Number of token ids (the width of a mask).</summary>
    public int Size { get; }

    /// <summary>Number of 32-bit words in a mask of <see cref="Size"/> bits.</summary>
    public int MaskWords => (Size + 31) / 32;

    internal int NodeCount { get; }

    /// <summary>Bytes that are a whole token by themselves: the fallback path that lets any output be finished.</summary>
    internal bool[] SingleByteTokens { get; }

    /// <summary>The bytes of <paramref name="id"/>, or null when constrained text never holds it.</summary>
    public byte[]? Bytes(int id) => id >= 0 && id < _bytes.Length ? _bytes[id] : null;
}
