using InferenceServer.TestSupport;

namespace InferenceServer.Server.Tests;

/// <summary>A REST client that hangs up mid-stream aborts its engine request (counted once, in the engine's Stats).</summary>
[Collection(nameof(EngineStateCollection))]
public sealed class ClientDisconnectTests(ServerFixture server)
{
    [Fact]
    public async Task Client_disconnect_aborts_the_engine_request()
    {
        var ct = TestContext.Current.CancellationToken;
        await WaitIdle("before the request", TimeSpan.FromSeconds(30), ct);
        long abortedBefore = Interlocked.Read(ref server.Engine.Stats.Aborted);
        // No draining on dispose: the client must really hang up mid-stream.
        using var http = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = server.BaseUri };
        using (var req = new HttpRequestMessage(HttpMethod.Post, "v1/completions")
        {
            Content = new StringContent("{\"prompt\": \"The film was\", \"max_tokens\": 250, \"ignore_eos\": true, \"stream\": true}",
                System.Text.Encoding.UTF8, "application/json"),
        })
        using (var response = await http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead, ct))
        {
            await using var body = await response.Content.ReadAsStreamAsync(ct);
            var buffer = new byte[64];
            Assert.True(await body.ReadAsync(buffer, ct) > 0); // generation is under way
        } // disposing the response closes the connection
        await WaitIdle("after the client hung up (the engine request was not aborted)", TimeSpan.FromSeconds(20), ct);
        // Exactly one: this collection runs alone, so no other test's abort can stand in for this one.
        Assert.Equal(abortedBefore + 1, Interlocked.Read(ref server.Engine.Stats.Aborted));
    }

    private Task WaitIdle(string when, TimeSpan timeout, CancellationToken ct) =>
        Waits.UntilAsync($"the shared engine idle {when}", timeout,
            _ => Task.FromResult(server.Engine.GetLoad()),
            load => load is { Running: 0, Waiting: 0 },
            TimeSpan.FromMilliseconds(20), load => $"{load.Running} running, {load.Waiting} waiting", ct);
}
