using System.Text;
using InferenceServer.TestSupport;
using InferenceServer.Tokenization;

namespace InferenceServer.StructuredOutputs.Tests;

/// <summary>Vocabularies the tests compile against: tiny-llama's SentencePiece one (committed) and hand-made ones.</summary>
internal static class TestVocabularies
{
    private static readonly Lazy<(ITokenizer Tokenizer, TokenVocabulary Vocabulary)> TinyLlamaLazy = new(() =>
    {
        var tokenizer = TokenizerLoader.Load(RepoPaths.TinyLlama).Tokenizer;
        return (tokenizer, TokenVocabulary.FromTokenizer(tokenizer));
    });

    public static ITokenizer TinyLlamaTokenizer => TinyLlamaLazy.Value.Tokenizer;

    public static TokenVocabulary TinyLlama => TinyLlamaLazy.Value.Vocabulary;

    /// <summary>Every single byte as a token (ids 0–255), then the given multi-byte tokens from id 256 on.</summary>
    public static TokenVocabulary BytesPlus(params string[] tokens)
    {
        var list = new List<byte[]?>();
        for (int b = 0; b < 256; b++) list.Add([(byte)b]);
        list.AddRange(tokens.Select(t => Encoding.UTF8.GetBytes(t)));
        return new TokenVocabulary(list);
    }
}
