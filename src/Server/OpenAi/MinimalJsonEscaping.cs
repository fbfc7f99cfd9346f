using System.Globalization;
using System.Text.Encodings.Web;

namespace InferenceServer.Server.OpenAi;

/// <summary>
/// Escapes in JSON strings only what JSON requires: the quote, the backslash and control characters (U+0000-U+001F,
/// with the short forms \n, \t, \r, \b, \f). Everything else, <c>'</c>, <c>&lt;</c>, <c>&amp;</c>, accents, CJK and
/// emoji included, is written as plain UTF-8, as OpenAI's API writes it. The default encoder of System.Text.Json
/// escapes HTML-sensitive and non-ASCII characters (<c>\u0027</c>, <c>\u003C</c>), which is valid JSON but not what
/// clients comparing raw bodies or reading logs expect.
/// </summary>
public sealed class MinimalJsonEscaping : JavaScriptEncoder
{
    public static readonly MinimalJsonEscaping Instance = new();

    private MinimalJsonEscaping() { }

    /// <summary>The longest escape is <c>\uXXXX</c>, six characters, for one UTF-16 unit (control characters only).</summary>
    public override int MaxOutputCharactersPerInputCharacter => 6;

    public override bool WillEncode(int unicodeScalar) => unicodeScalar is < 0x20 or '"' or '\\';

    public override unsafe int FindFirstCharacterToEncode(char* text, int textLength)
    {
        for (int i = 0; i < textLength; i++)
        {
            char c = text[i];
            if (c < 0x20 || c == '"' || c == '\\') return i;
            // A lone surrogate is not a Unicode scalar: hand it to the writer, which refuses or replaces it.
            if (char.IsHighSurrogate(c))
            {
                if (i + 1 < textLength && char.IsLowSurrogate(text[i + 1])) { i++; continue; }
                return i;
            }
            if (char.IsLowSurrogate(c)) return i;
        }
        return -1;
    }

    public override unsafe bool TryEncodeUnicodeScalar(int unicodeScalar, char* buffer, int bufferLength, out int numberOfCharactersWritten)
    {
        string escaped = unicodeScalar switch
        {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            '\b' => "\\b",
            '\f' => "\\f",
            < 0x20 => "\\u" + unicodeScalar.ToString("X4", CultureInfo.InvariantCulture),
            _ => char.ConvertFromUtf32(unicodeScalar),
        };
        if (escaped.Length > bufferLength)
        {
            numberOfCharactersWritten = 0;
            return false;
        }
        for (int i = 0; i < escaped.Length; i++) buffer[i] = escaped[i];
        numberOfCharactersWritten = escaped.Length;
        return true;
    }
}
