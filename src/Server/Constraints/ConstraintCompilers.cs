using System.Runtime.CompilerServices;
using InferenceServer.Engine.Serving;
using InferenceServer.StructuredOutputs;
using InferenceServer.Tokenization;

namespace InferenceServer.Server.Constraints;

/// <summary>
/// One <see cref="StructuredOutputCompiler"/> per loaded tokenizer (made on the first constrained request: building
/// the vocabulary trie costs a pass over the vocabulary), so every request shares its cache of compiled constraints.
/// </summary>
public static class ConstraintCompilers
{
    private static readonly ConditionalWeakTable<ITokenizer, StructuredOutputCompiler> Compilers = new();

    public static StructuredOutputCompiler For(IInferenceEngine engine) =>
        Compilers.GetValue(engine.Tokenizer, t => new StructuredOutputCompiler(TokenVocabulary.FromTokenizer(t, engine.Config.VocabSize)));
}
