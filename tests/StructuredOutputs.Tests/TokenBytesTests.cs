using System.Text;
using InferenceServer.TestSupport;
using InferenceServer.Tokenization;

namespace InferenceServer.StructuredOutputs.Tests;

/// <summary>
/// The bytes a constraint walks are the bytes the tokens decode to: for an encoded text, the tokens' bytes put together
/// give the text back (SentencePiece adds its dummy-prefix space in front); special tokens have none.
/// </summary>
public sealed class TokenBytesTests
{
    private const string Text = "Hello {\"a\": [1, -2.5e3], \"b\": \"x\\\"y\"}\n\tnaïve ☃ 😀";

    [Fact]
    public void SentencePieceTokensSpellTheTextWithByteFallback()
    {
        var tokenizer = TestVocabularies.TinyLlamaTokenizer;
        var ids = tokenizer.Encode(Text, addSpecialTokens: false);
        var bytes = ids.SelectMany(id => ((ITokenBytes)tokenizer).TokenBytes(id)!).ToArray();
        Assert.Equal(" " + Text, Encoding.UTF8.GetString(bytes));
        Assert.Null(((ITokenBytes)tokenizer).TokenBytes(tokenizer.BosTokenId!.Value));
        Assert.Null(((ITokenBytes)tokenizer).TokenBytes(tokenizer.EosTokenId!.Value));
        Assert.Equal([(byte)'\n'], ((ITokenBytes)tokenizer).TokenBytes(tokenizer.TokenToId("<0x0A>")!.Value)!);
    }

    [Fact]
    public void ByteLevelTokensSpellTheTextExactly()
    {
        var tokenizer = TokenizerLoader.Load(RepoPaths.Fixture("hf", "qwen2")).Tokenizer;
        var source = (ITokenBytes)tokenizer;
        var ids = tokenizer.Encode(Text, addSpecialTokens: false);
        Assert.Equal(Text, Encoding.UTF8.GetString(ids.SelectMany(id => source.TokenBytes(id)!).ToArray()));
        foreach (var special in tokenizer.SpecialTokenIds) Assert.Null(source.TokenBytes(special));
        var vocabulary = TokenVocabulary.FromTokenizer(tokenizer);
        Assert.Equal(tokenizer.VocabSize, vocabulary.Size);
        Assert.True(Enumerable.Range(0, 256).All(b => vocabulary.SingleByteTokens[b]));   // every byte is a token
    }
}
