namespace InferenceServer.Tokenization;

/// <summary>
/// The bytes each token adds to decoded text, for constrained decoding (structured outputs), which walks the
/// vocabulary byte by byte. Implemented by the SentencePiece and byte-level BPE tokenizers.
/// </summary>
public interface ITokenBytes
{
    /// <summary>
    /// The UTF-8 bytes token <paramref name="id"/> stands for (SentencePiece's ▁ as a space, a byte piece "&lt;0x0A&gt;"
    /// as its byte, a byte-level token through the GPT-2 alphabet), or null for special/control tokens, empty
    /// pieces and ids out of range: tokens that never belong to constrained text.
    /// </summary>
    byte[]? TokenBytes(int id);
}
