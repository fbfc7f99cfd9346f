namespace InferenceServer.Server.ToolCalling;

/// <summary>Finds where a JSON value ends in model output without parsing it, so complete calls can be told from partial ones mid-stream.</summary>
internal static class JsonScan
{
    /// <summary>
    /// The index just past the JSON object or array starting at <paramref name="start"/> (which must be '{' or '['),
    /// or -1 when the text ends before the value does. Brackets inside strings (escapes included) do not count.
    /// </summary>
    public static int ValueEnd(string text, int start)
    {
        if (start >= text.Length || (text[start] != '{' && text[start] != '['))
            return -1;
        var depth = 0;
        var inString = false;
        for (var i = start; i < text.Length; i++)
        {
            var c = text[i];
            if (inString)
            {
                if (c == '\\')
                    i++;
                else if (c == '"')
                    inString = false;
                continue;
            }
            switch (c)
            {
                case '"':
                    inString = true;
                    break;
                case '{' or '[':
                    depth++;
                    break;
                case '}' or ']':
                    depth--;
                    if (depth == 0)
                        return i + 1;
                    break;
            }
        }
        return -1;
    }

    public static int SkipWhitespace(string text, int i)
    {
        while (i < text.Length && char.IsWhiteSpace(text[i]))
            i++;
        return i;
    }
}
