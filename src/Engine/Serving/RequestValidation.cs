using InferenceServer.Engine.KvCache;
using InferenceServer.Engine.Requests;

namespace InferenceServer.Engine.Serving;

/// <summary>What makes a request unservable, refused at submission with the field it concerns.</summary>
internal static class RequestValidation
{
    /// <exception cref="ArgumentException">With ParamName set to the request field at fault.</exception>
    public static void Validate(GenerationRequest r, int vocab, int maxModelLen, KvCacheManager kvCache)
    {
        int n = r.PromptTokenIds.Count;
        if (n == 0)
            throw new ArgumentException("The prompt is empty.", "prompt");
        if (n >= maxModelLen)
            throw new ArgumentException($"This model's maximum context length is {maxModelLen} tokens. However, your prompt has {n} tokens, leaving no room for output.", "prompt");
        foreach (var id in r.PromptTokenIds)
            if (id < 0 || id >= vocab)
                throw new ArgumentException($"Token id {id} is out of vocabulary range [0, {vocab}).", "prompt");
        // In long: prompt + max_tokens near int.MaxValue must not wrap round to a small number and pass.
        if (r.Sampling.MaxTokens is int m && (long)n + m > maxModelLen)
            throw new ArgumentException($"This model's maximum context length is {maxModelLen} tokens. However, you requested {(long)n + m} tokens ({n} in the prompt, {m} for the completion). Please reduce the length of the prompt or max_tokens.", "max_tokens");
        int poolTokens = kvCache.Capacity * kvCache.BlockSize;
        if (kvCache.BlocksFor(n + 1) > kvCache.Capacity)
            throw new ArgumentException($"The prompt of {n} tokens does not fit the KV cache ({poolTokens} tokens).", "prompt");
        // A request that can never fit would preempt itself forever; one without max_tokens ends with "length" when it fills the pool.
        if (r.Sampling.MaxTokens is int mt && kvCache.BlocksFor(n + mt) > kvCache.Capacity)
            throw new ArgumentException($"The KV cache holds {poolTokens} tokens, but the prompt ({n} tokens) and max_tokens ({mt}) need {n + mt}. " +
                "Lower max_tokens or shorten the prompt; the server's pool grows with --num-kv-blocks, --kv-cache-space or --gpu-memory-utilization.", "max_tokens");
        r.Sampling.Validate(vocab);
    }
}
