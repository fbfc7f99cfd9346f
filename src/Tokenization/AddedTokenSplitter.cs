namespace InferenceServer.Tokenization;

/// <summary>One piece of input after added tokens are cut out: either plain text, or an added token's id.</summary>
internal readonly record struct TextSegment(string? Text, AddedToken? Token)
{
    public bool IsToken => Token is not null;
}

/// <summary>
/// Cuts added-token strings (<c>&lt;s&gt;</c>, <c>&lt;|im_start|&gt;</c>) out of the text, leftmost match first and
/// the longest token at that position, as HF tokenizers' added vocabulary does.
/// </summary>
internal sealed class AddedTokenSplitter
{
    // Candidates grouped by first character, longest first, so a scan tries few strings per position.
    private readonly Dictionary<char, AddedToken[]> _byFirstChar;

    public AddedTokenSplitter(IEnumerable<AddedToken> tokens)
    {
        _byFirstChar = tokens
            .Where(t => t.Content.Length > 0)
            .GroupBy(t => t.Content[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Content.Length).ToArray());
    }

    public bool IsEmpty => _byFirstChar.Count == 0;

    public List<TextSegment> Split(string text)
    {
        var segments = new List<TextSegment>();
        var textStart = 0;
        var i = 0;
        while (i < text.Length)
        {
            var token = MatchAt(text, i);
            if (token is null)
            {
                i++;
                continue;
            }
            var textEnd = i;
            if (token.LStrip)
                while (textEnd > textStart && char.IsWhiteSpace(text[textEnd - 1])) textEnd--;
            if (textEnd > textStart)
                segments.Add(new TextSegment(text[textStart..textEnd], null));
            segments.Add(new TextSegment(null, token));
            i += token.Content.Length;
            if (token.RStrip)
                while (i < text.Length && char.IsWhiteSpace(text[i])) i++;
            textStart = i;
        }
        if (textStart < text.Length)
            segments.Add(new TextSegment(text[textStart..], null));
        return segments;
    }

    private AddedToken? MatchAt(string text, int index)
    {
        if (!_byFirstChar.TryGetValue(text[index], out var candidates))
            return null;
        foreach (var token in candidates)
        {
            if (token.Content.Length > text.Length - index ||
                string.CompareOrdinal(text, index, token.Content, 0, token.Content.Length) != 0)
                continue;
            if (token.SingleWord && !IsWordBoundary(text, index, index + token.Content.Length))
                continue;
            return token;
        }
        return null;
    }

    private static bool IsWordBoundary(string text, int start, int end) =>
        (start == 0 || !char.IsLetterOrDigit(text[start - 1])) &&
        (end == text.Length || !char.IsLetterOrDigit(text[end]));
}
