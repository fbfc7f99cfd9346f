using System.Threading.Channels;
using InferenceServer.Engine.Sampling;
using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Serving;

namespace InferenceServer.Server.OpenAi;

/// <summary>Submits the engine requests behind one API call (n choices × prompts) and merges their streams.</summary>
public static class GenerationRunner
{
    /// <summary>
    /// Submits every request before anything is written, so validation errors still become a clean 4xx. If one
    /// submission fails, the ones already queued are aborted so they do not generate for nobody.
    /// </summary>
    public static List<IAsyncEnumerable<GenerationOutput>> SubmitAll(IInferenceEngine engine, IReadOnlyList<GenerationRequest> requests, CancellationToken ct)
    {
        var streams = new List<IAsyncEnumerable<GenerationOutput>>(requests.Count);
        try
        {
            foreach (var r in requests) streams.Add(engine.Submit(r, ct));
            return streams;
        }
        catch (Exception e)
        {
            foreach (var s in streams) _ = AbortAsync(s);
            throw Map(e);
        }
    }

    /// <summary>The engine only notices an abort once its stream is enumerated; enumerating with a cancelled token does it.</summary>
    private static async Task AbortAsync(IAsyncEnumerable<GenerationOutput> stream)
    {
        try
        {
            await foreach (var _ in stream.WithCancellation(new CancellationToken(true))) { }
        }
        catch (OperationCanceledException) { }
    }

    public static Exception Map(Exception e) => e switch
    {
        ApiException => e,
        QueueFullException q => new ApiException(429, q.Message, type: "requests", code: "rate_limit_exceeded"),   // OpenAI's rate-limit error
        SamplingParamsException s => ApiException.BadRequest(StripParam(s), s.Param),
        ArgumentException a => ApiException.BadRequest(StripParam(a), a.ParamName),
        _ => e,
    };

    // ArgumentException.Message appends " (Parameter 'x')"; the error object carries param separately.
    private static string StripParam(ArgumentException a) =>
        a.ParamName is { } p && a.Message.EndsWith($" (Parameter '{p}')", StringComparison.Ordinal)
            ? a.Message[..^$" (Parameter '{p}')".Length]
            : a.Message;

    /// <summary>Interleaves the streams in arrival order, tagging each output with its stream's index.</summary>
    public static async IAsyncEnumerable<(int Index, GenerationOutput Output)> Merge(
        IReadOnlyList<IAsyncEnumerable<GenerationOutput>> streams, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        if (streams.Count == 1)
        {
            await foreach (var o in streams[0].WithCancellation(ct)) yield return (0, o);
            yield break;
        }
        var channel = Channel.CreateUnbounded<(int, GenerationOutput)>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var pumps = streams.Select(async (s, i) =>
        {
            await foreach (var o in s.WithCancellation(stop.Token)) await channel.Writer.WriteAsync((i, o), stop.Token);
        }).ToList();
        _ = Task.WhenAll(pumps).ContinueWith(t => channel.Writer.TryComplete(t.Exception?.GetBaseException()), TaskScheduler.Default);
        try
        {
            await foreach (var item in channel.Reader.ReadAllAsync(ct)) yield return item;
        }
        finally
        {
            // Leaving early (client gone, error) cancels the pumps, which aborts the remaining engine requests.
            stop.Cancel();
        }
    }

    public static string FinishReasonText(FinishReason? f) => f switch
    {
        FinishReason.Stop => "stop",
        FinishReason.Length => "length",
        _ => "stop",
    };
}
