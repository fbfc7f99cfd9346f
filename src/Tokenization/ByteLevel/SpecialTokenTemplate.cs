namespace InferenceServer.Tokenization;

/// <summary>
/// The ids a post-processor puts around one sequence when special tokens are asked for: TemplateProcessing's
/// <c>single</c> template (e.g. <c>&lt;|begin_of_text|&gt; $A</c>), or Roberta/Bert's cls and sep.
/// </summary>
internal sealed record SpecialTokenTemplate(int[] Prefix, int[] Suffix)
{
    public static readonly SpecialTokenTemplate None = new([], []);
}
