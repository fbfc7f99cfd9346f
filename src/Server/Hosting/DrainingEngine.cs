using System.Runtime.CompilerServices;
using InferenceServer.Engine.Core;
using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Serving;
using InferenceServer.Server.OpenAi;
using InferenceServer.Tokenization;

namespace InferenceServer.Server.Hosting;

/// <summary>
/// The engine as the front ends see it: every submission's token is linked to the drain deadline, so a request still
/// generating when <see cref="ShutdownDrain.Deadline"/> fires is aborted in the engine (its KV blocks freed) and its
/// stream ends with <see cref="ShutdownDrain.Cut"/> (an ApiException 503) instead of a cancellation. The REST endpoints
/// turn that into a last SSE error event and [DONE] (or a 503 error object before the response started), the gRPC
/// service into UNAVAILABLE: the same paths every other mid-stream error takes. A request whose engine step ran out
/// of device memory ends the same way (503 / UNAVAILABLE), with a message that says so.
/// </summary>
public sealed class DrainingEngine(IInferenceEngine inner, ShutdownDrain drain) : IInferenceEngine
{
    public ModelConfig Config => inner.Config;
    public TorchSharp.torch.ScalarType Dtype => inner.Dtype;
    public EngineStats Stats => inner.Stats;
    public IEngineObserver? Observer { get => inner.Observer; set => inner.Observer = value; }
    public ITokenizer Tokenizer => inner.Tokenizer;
    public TokenizerConfig TokenizerConfig => inner.TokenizerConfig;
    public int MaxModelLen => inner.MaxModelLen;
    public bool IsReady => inner.IsReady;
    public EngineLoad GetLoad() => inner.GetLoad();

    public ParallelInfo Parallel => inner.Parallel;

    public IAsyncEnumerable<GenerationOutput> Submit(GenerationRequest request, CancellationToken cancellationToken)
    {
        var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, drain.Deadline);
        try
        {
            // Submitted here, not on first read: validation and queue-full errors stay synchronous.
            return Read(inner.Submit(request, linked.Token), linked, cancellationToken, RequestTally.Current, request.PromptTokenIds.Count);
        }
        catch
        {
            linked.Dispose();
            throw;
        }
    }

    private async IAsyncEnumerable<GenerationOutput> Read(IAsyncEnumerable<GenerationOutput> stream, CancellationTokenSource linked,
        CancellationToken caller, RequestTally? tally, int promptTokens, [EnumeratorCancellation] CancellationToken ct = default)
    {
        int generated = 0;
        GenerationUsage? usage = null;
        try
        {
            using var owned = linked;
            await using var e = stream.GetAsyncEnumerator(ct);
            while (true)
            {
                bool more;
                try
                {
                    more = await e.MoveNextAsync();
                }
                catch (OperationCanceledException) when (CutByDeadline(caller, ct))
                {
                    throw drain.Cut();
                }
                catch (StepOutOfMemoryException oom)
                {
                    // The engine went on without this request's step; the client may retry at once.
                    throw new ApiException(503, oom.Message, type: "server_error", code: "service_unavailable");
                }
                if (!more) yield break;
                generated += e.Current.TokenIds.Count;
                usage = e.Current.Usage ?? usage;
                yield return e.Current;
                // An engine that finished its output before noticing the abort still stops here at the deadline.
                if (CutByDeadline(caller, ct) && e.Current.Finish is null) throw drain.Cut();
            }
        }
        finally
        {
            // However the stream ends (finished, cut, abandoned), its tokens go on its request's log line.
            tally?.Add(usage?.PromptTokens ?? promptTokens, usage?.CompletionTokens ?? generated);
        }
    }

    private bool CutByDeadline(CancellationToken caller, CancellationToken ct) =>
        drain.Deadline.IsCancellationRequested && !caller.IsCancellationRequested && !ct.IsCancellationRequested;
}
