using System.ClientModel;
using System.Text;
using System.Text.Json.Nodes;
using OpenAI;
using OpenAI.Chat;

namespace InferenceServer.Server.Tests;

public sealed class ChatTests(ServerFixture server)
{
    private ChatClient Client() => new(ServerFixture.Model, new ApiKeyCredential("x"),
        new OpenAIClientOptions { Endpoint = new Uri(server.BaseUri, "v1") });

    private static List<ChatMessage> Messages() => [new SystemChatMessage("You are terse."), new UserChatMessage("Tell me about the jury.")];

    [Fact]
    public async Task Sdk_non_streaming_and_streaming_agree()
    {
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 12, Temperature = 0f };
        ChatCompletion completion = await Client().CompleteChatAsync(Messages(), options, TestContext.Current.CancellationToken);
        Assert.StartsWith("chatcmpl-", completion.Id);
        Assert.Equal(ChatMessageRole.Assistant, completion.Role);
        string text = completion.Content[0].Text;
        Assert.NotEmpty(text);
        Assert.True(completion.Usage.OutputTokenCount is > 0 and <= 12);
        Assert.True(completion.Usage.InputTokenCount > 10);
        Assert.Equal(completion.Usage.InputTokenCount + completion.Usage.OutputTokenCount, completion.Usage.TotalTokenCount);

        var streamed = new StringBuilder();
        ChatFinishReason? finish = null;
        ChatTokenUsage? usage = null;
        await foreach (var update in Client().CompleteChatStreamingAsync(Messages(), options, TestContext.Current.CancellationToken))
        {
            foreach (var part in update.ContentUpdate) streamed.Append(part.Text);
            finish ??= update.FinishReason;
            usage ??= update.Usage;
        }
        Assert.Equal(text, streamed.ToString());
        Assert.Equal(completion.FinishReason, finish);
        Assert.Equal(completion.Usage.OutputTokenCount, usage?.OutputTokenCount);
    }

    [Fact]
    public async Task Sdk_logprobs()
    {
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 5, Temperature = 0f, IncludeLogProbabilities = true, TopLogProbabilityCount = 3 };
        ChatCompletion completion = await Client().CompleteChatAsync(Messages(), options, TestContext.Current.CancellationToken);
        var lps = completion.ContentTokenLogProbabilities;
        Assert.Equal(completion.Usage.OutputTokenCount, lps.Count);
        foreach (var lp in lps)
        {
            Assert.True(lp.LogProbability <= 0);
            Assert.Equal(3, lp.TopLogProbabilities.Count);
            Assert.Equal(lp.TopLogProbabilities[0].LogProbability, lp.LogProbability, 3);
        }
    }

    [Fact]
    public async Task Raw_chat_n2_and_stream_chunks()
    {
        var (status, body, _) = await Http.Post(server.Http, "v1/chat/completions", new
        {
            model = ServerFixture.Model,
            messages = new[] { new { role = "user", content = "Hello" } },
            n = 2, max_tokens = 6, temperature = 0, ignore_eos = true,
        });
        Assert.Equal(200, status);
        Assert.Equal("chat.completion", (string)body!["object"]!);
        var choices = body["choices"]!.AsArray();
        Assert.Equal(2, choices.Count);
        Assert.All(choices, c => Assert.Equal("assistant", (string)c!["message"]!["role"]!));
        Assert.Equal(12, (int)body["usage"]!["completion_tokens"]!);

        var events = await Http.PostSse(server.Http, "v1/chat/completions", new
        {
            messages = new[] { new { role = "user", content = "Hello" } },
            max_tokens = 6, temperature = 0, ignore_eos = true, stream = true,
        });
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonNode.Parse(e)!).ToList();
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", (string)c["object"]!));
        Assert.Equal("assistant", (string)chunks[0]["choices"]![0]!["delta"]!["role"]!);
        Assert.Equal("length", (string)chunks[^1]["choices"]![0]!["finish_reason"]!);
        string streamed = string.Concat(chunks.Select(c => (string?)c["choices"]![0]!["delta"]!["content"] ?? ""));
        Assert.Equal((string)choices[0]!["message"]!["content"]!, streamed);
    }

    [Fact]
    public async Task Tokenize_and_detokenize_round_trip()
    {
        var (status, body, _) = await Http.Post(server.Http, "tokenize", new { model = ServerFixture.Model, prompt = "The film was" });
        Assert.Equal(200, status);
        var tokens = body!["tokens"]!.AsArray().Select(t => (int)t!).ToList();
        Assert.Equal(server.Engine.Tokenizer.Encode("The film was"), tokens);
        Assert.Equal(tokens.Count, (int)body["count"]!);
        Assert.Equal(256, (int)body["max_model_len"]!);
        var (s2, detok, _) = await Http.Post(server.Http, "detokenize", new { tokens = tokens.Skip(1).ToArray() });
        Assert.Equal(200, s2);
        Assert.Equal("The film was", (string)detok!["prompt"]!);

        var (s3, chat, _) = await Http.Post(server.Http, "tokenize", new { messages = new[] { new { role = "user", content = "Hi" } } });
        Assert.Equal(200, s3);
        Assert.Equal(1, (int)chat!["tokens"]![0]!); // BOS from the template, once
        Assert.NotEqual(1, (int)chat["tokens"]![1]!);
    }

    [Fact]
    public async Task Content_parts_equal_a_plain_string_and_stream_n2_carries_both_indexes()
    {
        var parts = new { role = "user", content = new[] { new { type = "text", text = "Hello" } } };
        var (s1, a, _) = await Http.Post(server.Http, "v1/chat/completions", new { messages = new object[] { parts }, max_tokens = 5, temperature = 0, ignore_eos = true });
        var (s2, b, _) = await Http.Post(server.Http, "v1/chat/completions", new { messages = new[] { new { role = "user", content = "Hello" } }, max_tokens = 5, temperature = 0, ignore_eos = true });
        Assert.Equal(200, s1);
        Assert.Equal(200, s2);
        Assert.Equal((string)b!["choices"]![0]!["message"]!["content"]!, (string)a!["choices"]![0]!["message"]!["content"]!);

        var events = await Http.PostSse(server.Http, "v1/chat/completions", new
        {
            messages = new[] { new { role = "user", content = "Hello" } },
            n = 2, max_tokens = 4, temperature = 0, ignore_eos = true, stream = true, logprobs = true,
            stream_options = new { include_usage = true },
        });
        var chunks = events[..^1].Select(e => JsonNode.Parse(e)!).ToList();
        Assert.Equal(8, (int)chunks[^1]["usage"]!["completion_tokens"]!);
        var byIndex = chunks[..^1].GroupBy(c => (int)c["choices"]![0]!["index"]!).ToDictionary(g => g.Key, g => g.ToList());
        Assert.Equal([0, 1], byIndex.Keys.Order());
        foreach (var list in byIndex.Values)
        {
            Assert.Equal("assistant", (string)list[0]["choices"]![0]!["delta"]!["role"]!);
            Assert.Equal(1, list.Count(c => c["choices"]![0]!["finish_reason"] is not null));
            Assert.Equal(4, list.Sum(c => c["choices"]![0]!["logprobs"]?["content"]?.AsArray().Count ?? 0));
        }
    }
}
