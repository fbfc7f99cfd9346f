namespace InferenceServer.Tokenization;

/// <summary>A tokenizer file is missing, malformed or uses a feature we don't support; the message names the file.</summary>
public sealed class TokenizerLoadException : Exception
{
    public TokenizerLoadException(string path, string problem, Exception? inner = null)
        : base($"{Path.GetFullPath(path)}: {problem}", inner)
    {
        FilePath = path;
    }

    public string FilePath { get; }
}
