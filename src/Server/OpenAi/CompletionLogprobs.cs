using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Serving;
using InferenceServer.Tokenization;

namespace InferenceServer.Server.OpenAi;

/// <summary>
/// Builds the legacy completions <c>logprobs</c> object incrementally (streaming sends one slice per chunk).
/// Tokens are shown as their decoded text, as vLLM does; text_offset counts characters from the start of the choice's text.
/// </summary>
public sealed class CompletionLogprobs(ITokenizer tokenizer, int textOffset = 0)
{
    private int _offset = textOffset;

    public CompletionLogprobsDto NewSlice() => new([], [], [], []);

    public void Add(CompletionLogprobsDto slice, int tokenId, OutputLogprob? lp)
    {
        string token = tokenizer.Decode([tokenId], skipSpecialTokens: false);
        slice.Tokens.Add(token);
        slice.TokenLogprobs.Add(lp is null ? null : ChatCompletionsEndpoint.Finite(lp.Logprob));
        slice.TextOffset.Add(_offset);
        _offset += token.Length;
        if (lp is null)
        {
            slice.TopLogprobs.Add(null);
            return;
        }
        var top = new Dictionary<string, float>(StringComparer.Ordinal);
        foreach (var t in lp.Top) top.TryAdd(tokenizer.Decode([t.TokenId], skipSpecialTokens: false), ChatCompletionsEndpoint.Finite(t.Logprob));
        // vLLM always lists the chosen token among the alternatives.
        top.TryAdd(token, ChatCompletionsEndpoint.Finite(lp.Logprob));
        slice.TopLogprobs.Add(top);
    }

    public static void Append(CompletionLogprobsDto into, CompletionLogprobsDto slice)
    {
        into.Tokens.AddRange(slice.Tokens);
        into.TokenLogprobs.AddRange(slice.TokenLogprobs);
        into.TopLogprobs.AddRange(slice.TopLogprobs);
        into.TextOffset.AddRange(slice.TextOffset);
    }
}
