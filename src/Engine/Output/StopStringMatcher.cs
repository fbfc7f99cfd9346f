
namespace InferenceServer.Engine.Output;

/// <summary>
/// Finds stop strings in streamed text. Text that could still turn into a stop string is held back, so a client
/// never receives part of one; the stop string itself is never emitted (OpenAI semantics).
/// </summary>
public sealed class StopStringMatcher(IReadOnlyList<string> stops)
{
    private readonly int _holdBack = stops.Count == 0 ? 0 : stops.Max(s => s.Length) - 1;
    private readonly System.Text.StringBuilder _text = new();
    private int _emitted;

    /// <summary>The stop string that matched, once one has.</summary>
    public string? Matched { get; private set; }

    /// <summary>Adds new text and returns what may be sent now.</summary>
    public string Append(string delta)
    {
        if (Matched is not null || delta.Length == 0) return "";
        int searchFrom = Math.Max(0, _text.Length - _holdBack);
        _text.Append(delta);
        if (stops.Count > 0)
        {
            var text = _text.ToString();
            int best = -1;
            foreach (var s in stops)
            {
                int i = text.IndexOf(s, searchFrom, StringComparison.Ordinal);
                if (i >= 0 && (best < 0 || i < best)) { best = i; Matched = s; }
            }
            if (best >= 0)
                return Take(best);
        }
        return Take(Math.Max(_emitted, _text.Length - _holdBack));
    }

    /// <summary>Releases held-back text when the sequence ends for another reason.</summary>
    public string Flush() => Matched is null ? Take(_text.Length) : "";

    private string Take(int upTo)
    {
        if (upTo <= _emitted) return "";
        // Never split a surrogate pair between two chunks.
        if (upTo < _text.Length && char.IsHighSurrogate(_text[upTo - 1])) upTo--;
        var s = _text.ToString(_emitted, upTo - _emitted);
        _emitted = upTo;
        return s;
    }
}
