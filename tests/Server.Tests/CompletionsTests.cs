using System.Text.Json;
using System.Text.Json.Nodes;
using InferenceServer.Tokenization;
using InferenceServer.TestSupport;

namespace InferenceServer.Server.Tests;

public sealed class CompletionsTests(ServerFixture server)
{
    public static TheoryData<string, string> References()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoPaths.TinyLlama, "reference.json")));
        var data = new TheoryData<string, string>();
        foreach (var p in doc.RootElement.GetProperty("prompts").EnumerateArray())
            data.Add(p.GetProperty("text").GetString()!, p.GetProperty("greedy_text").GetString()!);
        return data;
    }

    [Theory]
    [MemberData(nameof(References))]
    public async Task Greedy_matches_reference(string prompt, string greedy)
    {
        var (status, body, _) = await Http.Post(server.Http, "v1/completions",
            new { model = ServerFixture.Model, prompt, max_tokens = 24, temperature = 0, ignore_eos = true });
        Assert.Equal(200, status);
        Assert.StartsWith("cmpl-", (string)body!["id"]!);
        Assert.Equal("text_completion", (string)body["object"]!);
        Assert.Equal(ServerFixture.Model, (string)body["model"]!);
        var choice = body["choices"]![0]!;
        // reference.json decodes the output ids on their own, which drops SentencePiece's leading space; the server
        // decodes them after the prompt (as vLLM does), so its text may start with that space.
        string text = (string)choice["text"]!;
        Assert.Equal(greedy, text.TrimStart(' '));
        Assert.Equal(ExpectedInContext(server.Engine.Tokenizer, prompt), text);
        Assert.Equal("length", (string)choice["finish_reason"]!);
        Assert.Null(choice["logprobs"]);
        Assert.Equal(24, (int)body["usage"]!["completion_tokens"]!);
        int promptTokens = server.Engine.Tokenizer.Encode(prompt).Count;
        Assert.Equal(promptTokens, (int)body["usage"]!["prompt_tokens"]!);
        Assert.Equal(promptTokens + 24, (int)body["usage"]!["total_tokens"]!);
        Assert.InRange((int)body["usage"]!["prompt_tokens_details"]!["cached_tokens"]!, 0, promptTokens);
    }

    /// <summary>The reference output decoded after its prompt, as the server (and vLLM) decode it.</summary>
    internal static string ExpectedInContext(ITokenizer tok, string prompt)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoPaths.TinyLlama, "reference.json")));
        var p = doc.RootElement.GetProperty("prompts").EnumerateArray().First(e => e.GetProperty("text").GetString() == prompt);
        var ids = p.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToList();
        var outIds = p.GetProperty("greedy_ids").EnumerateArray().Select(e => e.GetInt32()).ToList();
        return tok.Decode([.. ids, .. outIds])[tok.Decode(ids).Length..];
    }

    [Fact]
    public async Task Token_id_prompts_and_n_give_one_choice_each()
    {
        var ids = server.Engine.Tokenizer.Encode("The film was");
        var (status, body, _) = await Http.Post(server.Http, "v1/completions",
            new { prompt = new[] { ids.ToArray(), ids.ToArray() }, n = 2, max_tokens = 5, temperature = 0, ignore_eos = true });
        Assert.Equal(200, status);
        var choices = body!["choices"]!.AsArray();
        Assert.Equal(4, choices.Count);
        Assert.Equal([0, 1, 2, 3], choices.Select(c => (int)c!["index"]!));
        Assert.Single(choices.Select(c => (string)c!["text"]!).Distinct()); // greedy: all equal
        Assert.Equal(2 * ids.Count, (int)body["usage"]!["prompt_tokens"]!);
        Assert.Equal(20, (int)body["usage"]!["completion_tokens"]!);
    }

    [Fact]
    public async Task Sampled_n2_with_seed_is_reproducible()
    {
        var req = new { prompt = "The film was", n = 2, max_tokens = 8, temperature = 1.0, seed = 7, ignore_eos = true };
        var (_, a, _) = await Http.Post(server.Http, "v1/completions", req);
        var (_, b, _) = await Http.Post(server.Http, "v1/completions", req);
        var ta = a!["choices"]!.AsArray().Select(c => (string)c!["text"]!).ToList();
        var tb = b!["choices"]!.AsArray().Select(c => (string)c!["text"]!).ToList();
        Assert.Equal(ta, tb);
        // vLLM seeds choice i with seed + i (ParentRequest child params), so the choices differ.
        Assert.NotEqual(ta[0], ta[1]);
    }

    [Fact]
    public async Task Logprobs_and_echo_use_the_legacy_format()
    {
        var (status, body, _) = await Http.Post(server.Http, "v1/completions",
            new { prompt = "The jury said that", max_tokens = 4, temperature = 0, ignore_eos = true, logprobs = 2, echo = true });
        Assert.Equal(200, status);
        var choice = body!["choices"]![0]!;
        var lp = choice["logprobs"]!;
        int promptTokens = server.Engine.Tokenizer.Encode("The jury said that").Count;
        var tokens = lp["tokens"]!.AsArray();
        Assert.Equal(promptTokens + 4, tokens.Count);
        Assert.Equal(tokens.Count, lp["token_logprobs"]!.AsArray().Count);
        Assert.Equal(tokens.Count, lp["top_logprobs"]!.AsArray().Count);
        Assert.Equal(tokens.Count, lp["text_offset"]!.AsArray().Count);
        Assert.Null(lp["token_logprobs"]![0]); // the first prompt token has no prediction
        Assert.StartsWith("The jury said that", (string)choice["text"]!);
        for (int i = promptTokens; i < tokens.Count; i++)
        {
            float chosen = (float)lp["token_logprobs"]![i]!;
            Assert.True(chosen <= 0);
            var top = lp["top_logprobs"]![i]!.AsObject();
            Assert.InRange(top.Count, 1, 3);
            // greedy: the chosen token is the most likely one
            Assert.Equal(top.Max(kv => (float)kv.Value!), chosen, 3);
        }
    }

    [Fact]
    public async Task Stop_string_ends_with_stop_and_is_not_returned()
    {
        var (_, full, _) = await Http.Post(server.Http, "v1/completions", new { prompt = "The jury said that", max_tokens = 24, temperature = 0, ignore_eos = true });
        string text = (string)full!["choices"]![0]!["text"]!;
        var (status, body, _) = await Http.Post(server.Http, "v1/completions",
            new { prompt = "The jury said that", max_tokens = 24, temperature = 0, ignore_eos = true, stop = new[] { "able" } });
        Assert.Equal(200, status);
        Assert.Equal(text[..text.IndexOf("able", StringComparison.Ordinal)], (string)body!["choices"]![0]!["text"]!);
        Assert.Equal("stop", (string)body["choices"]![0]!["finish_reason"]!);
    }

    [Fact]
    public async Task Streaming_chunks_concatenate_to_the_full_text_then_usage_and_done()
    {
        var events = await Http.PostSse(server.Http, "v1/completions",
            new { prompt = "The film was", max_tokens = 10, temperature = 0, ignore_eos = true, stream = true, stream_options = new { include_usage = true } });
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonNode.Parse(e)!).ToList();
        Assert.All(chunks, c => Assert.Equal("text_completion", (string)c["object"]!));
        var usageChunk = chunks[^1];
        Assert.Empty(usageChunk["choices"]!.AsArray());
        Assert.Equal(10, (int)usageChunk["usage"]!["completion_tokens"]!);
        var textChunks = chunks[..^1];
        Assert.Equal("length", (string)textChunks[^1]["choices"]![0]!["finish_reason"]!);
        string streamed = string.Concat(textChunks.Select(c => (string)c["choices"]![0]!["text"]!));
        var (_, full, _) = await Http.Post(server.Http, "v1/completions", new { prompt = "The film was", max_tokens = 10, temperature = 0, ignore_eos = true });
        Assert.Equal((string)full!["choices"]![0]!["text"]!, streamed);
    }

    // The client-disconnect abort test counts the shared engine's aborts, so it lives in ClientDisconnectTests, in
    // the EngineStateCollection that runs alone.
}
