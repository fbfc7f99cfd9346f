using InferenceServer.Engine.Sampling;

namespace InferenceServer.Engine.Tests.Sampling;

public class SamplingParamsValidationTests
{
    private const int Vocab = 32;

    public static TheoryData<string, SamplingParams> Invalid => new()
    {
        { "temperature", new SamplingParams { Temperature = -0.1f } },
        { "temperature", new SamplingParams { Temperature = float.NaN } },
        { "temperature", new SamplingParams { Temperature = float.PositiveInfinity } },
        { "top_p", new SamplingParams { TopP = 0f } },
        { "top_p", new SamplingParams { TopP = 1.01f } },
        { "top_k", new SamplingParams { TopK = -2 } },
        { "min_p", new SamplingParams { MinP = -0.1f } },
        { "min_p", new SamplingParams { MinP = 1.5f } },
        { "repetition_penalty", new SamplingParams { RepetitionPenalty = 0f } },
        { "presence_penalty", new SamplingParams { PresencePenalty = 2.5f } },
        { "frequency_penalty", new SamplingParams { FrequencyPenalty = -2.5f } },
        { "max_tokens", new SamplingParams { MaxTokens = 0 } },
        { "min_tokens", new SamplingParams { MinTokens = -1 } },
        { "min_tokens", new SamplingParams { MinTokens = 5, MaxTokens = 4 } },
        { "logprobs", new SamplingParams { Logprobs = -1 } },
        { "logprobs", new SamplingParams { Logprobs = 21 } },
        { "stop", new SamplingParams { Stop = ["ok", ""] } },
        { "stop_token_ids", new SamplingParams { StopTokenIds = [Vocab] } },
        { "logit_bias", new SamplingParams { LogitBias = new Dictionary<int, float> { [Vocab] = 1f } } },
        { "logit_bias", new SamplingParams { LogitBias = new Dictionary<int, float> { [-1] = 1f } } },
        { "logit_bias", new SamplingParams { LogitBias = new Dictionary<int, float> { [3] = float.NaN } } },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void OutOfRangeValueNamesTheOpenAiParameter(string param, SamplingParams p)
    {
        var e = Assert.Throws<SamplingParamsException>(() => p.Validate(Vocab));
        Assert.Equal(param, e.Param);
        Assert.Equal(param, e.ParamName);
    }

    public static TheoryData<SamplingParams> Valid => new()
    {
        new SamplingParams(),
        SamplingParams.Greedy,
        // vLLM accepts temperatures above OpenAI's 2.
        new SamplingParams { Temperature = 5f },
        new SamplingParams { TopK = -1 },
        new SamplingParams { TopK = 1000 },
        new SamplingParams { TopP = 1f, MinP = 1f },
        new SamplingParams { PresencePenalty = -2f, FrequencyPenalty = 2f, RepetitionPenalty = 1.3f },
        new SamplingParams { MinTokens = 4, MaxTokens = 4, Logprobs = 0, Seed = -7 },
        // Out-of-range bias values are clamped by the sampler (vLLM), not rejected.
        new SamplingParams { LogitBias = new Dictionary<int, float> { [0] = 250f, [31] = -100f }, StopTokenIds = [0, 31] },
    };

    [Theory]
    [MemberData(nameof(Valid))]
    public void InRangeValuesPass(SamplingParams p) => p.Validate(Vocab);

    [Fact]
    public void TinyPositiveTemperatureIsRaisedToVllmFloor()
    {
        Assert.True(new SamplingParams { Temperature = 0f }.IsGreedy);
        Assert.True(new SamplingParams { Temperature = 1e-6f }.IsGreedy);
        var tiny = new SamplingParams { Temperature = 1e-3f };
        Assert.False(tiny.IsGreedy);
        Assert.Equal(0.01f, tiny.EffectiveTemperature);
        Assert.Equal(0.7f, new SamplingParams { Temperature = 0.7f }.EffectiveTemperature);
    }
}
