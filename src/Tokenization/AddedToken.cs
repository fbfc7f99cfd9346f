namespace InferenceServer.Tokenization;

/// <summary>
/// A token matched verbatim in the input before the model's own splitting (HF <c>added_tokens</c>).
/// <paramref name="LStrip"/>/<paramref name="RStrip"/> swallow whitespace on that side; <paramref name="SingleWord"/>
/// only matches when not inside a word. <paramref name="Special"/> tokens are dropped by <c>skipSpecialTokens</c>.
/// </summary>
public sealed record AddedToken(
    string Content,
    int Id,
    bool Special,
    bool LStrip = false,
    bool RStrip = false,
    bool SingleWord = false,
    bool Normalized = false);
