using System.Text;
using Grpc.Core;
using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Serving;
using InferenceServer.GrpcApi.V1;
using InferenceServer.Server.Settings;

namespace InferenceServer.Server.Grpc;

/// <summary>inference.v1.InferenceService (protos/inference.proto) over the shared engine.</summary>
public sealed class InferenceGrpcService(IInferenceEngine engine, ServerSettings settings, ILogger<InferenceGrpcService> logger)
    : InferenceService.InferenceServiceBase
{
    public override Task Generate(GenerateRequest request, IServerStreamWriter<GenerateResponse> responseStream, ServerCallContext context) =>
        Guard(context, async ct =>
        {
            var (requests, streams) = Submit(request, ct);
            bool promptSent = false;
            await foreach (var (index, o) in OpenAi.GenerationRunner.Merge(streams, ct))
            {
                var r = GrpcRequestMapping.ToResponse(o, engine.Tokenizer);
                r.Index = index;
                if (!promptSent && o.PromptLogprobs is { } plp)
                {
                    r.PromptLogprobs.AddRange(GrpcRequestMapping.ToPromptLogprobs(requests[0].PromptTokenIds, plp, engine.Tokenizer));
                    promptSent = true;
                }
                await responseStream.WriteAsync(r, ct);
            }
            return 0;
        });

    public override Task<CompleteResponse> Complete(GenerateRequest request, ServerCallContext context) =>
        Guard(context, async ct =>
        {
            var (requests, streams) = Submit(request, ct);
            var choices = requests.Select((_, i) => new CompleteChoice { Index = i }).ToList();
            var texts = requests.Select(_ => new StringBuilder()).ToList();
            var r = new CompleteResponse();
            await foreach (var (index, o) in OpenAi.GenerationRunner.Merge(streams, ct))
            {
                var piece = GrpcRequestMapping.ToResponse(o, engine.Tokenizer);
                var c = choices[index];
                c.TokenIds.AddRange(piece.TokenIds);
                c.Logprobs.AddRange(piece.Logprobs);
                texts[index].Append(piece.Text);
                if (piece.Finish != null) c.Finish = piece.Finish;
                if (r.PromptLogprobs.Count == 0 && o.PromptLogprobs is { } plp)
                    r.PromptLogprobs.AddRange(GrpcRequestMapping.ToPromptLogprobs(requests[0].PromptTokenIds, plp, engine.Tokenizer));
            }
            for (int i = 0; i < choices.Count; i++) choices[i].Text = texts[i].ToString();
            r.Choices.AddRange(choices);
            // Fields 1-4 stay choice 0, so clients written for n = 1 read the same message as before.
            r.TokenIds.AddRange(choices[0].TokenIds);
            r.Logprobs.AddRange(choices[0].Logprobs);
            r.Text = choices[0].Text;
            r.Finish = choices[0].Finish;
            return r;
        });

    public override Task<TokenizeResponse> Tokenize(TokenizeRequest request, ServerCallContext context) =>
        Guard(context, _ =>
        {
            GrpcErrors.CheckModel(request.Model, settings);
            var ids = engine.Tokenizer.Encode(request.Text, addSpecialTokens: !request.HasAddSpecialTokens || request.AddSpecialTokens);
            var r = new TokenizeResponse { Count = ids.Count, MaxModelLen = engine.MaxModelLen };
            r.TokenIds.AddRange(ids);
            return Task.FromResult(r);
        });

    public override Task<DetokenizeResponse> Detokenize(DetokenizeRequest request, ServerCallContext context) =>
        Guard(context, _ =>
        {
            GrpcErrors.CheckModel(request.Model, settings);
            int vocab = engine.Tokenizer.VocabSize;
            if (request.TokenIds.Any(i => i < 0 || i >= vocab))
                throw GrpcErrors.InvalidArgument($"Token ids must be in [0, {vocab}).", "token_ids");
            string text = engine.Tokenizer.Decode([.. request.TokenIds], skipSpecialTokens: request.HasSkipSpecialTokens && request.SkipSpecialTokens);
            return Task.FromResult(new DetokenizeResponse { Text = text });
        });

    public override Task<ModelInfoResponse> ModelInfo(ModelInfoRequest request, ServerCallContext context) =>
        Guard(context, _ => Task.FromResult(ModelInfoMapping.Describe(engine, settings, GrpcErrors.CheckModel(request.Model, settings))));

    /// <summary>Answers even while loading (ready = false), so routers can poll it from the start.</summary>
    public override Task<GetLoadResponse> GetLoad(GetLoadRequest request, ServerCallContext context)
    {
        var l = engine.GetLoad();
        return Task.FromResult(new GetLoadResponse
        {
            Running = l.Running,
            Waiting = l.Waiting,
            KvCacheUsage = l.KvUsage,
            KvBlocksTotal = l.KvBlocksTotal,
            KvBlocksFree = l.KvBlocksFree,
            BlockSize = l.BlockSize,
            Ready = engine.IsReady,
        });
    }

    private (List<GenerationRequest> Requests, List<IAsyncEnumerable<GenerationOutput>> Streams) Submit(GenerateRequest request, CancellationToken ct)
    {
        GrpcErrors.CheckModel(request.Model, settings);
        var requests = GrpcRequestMapping.ToEngineRequests(request, engine.Tokenizer);
        if (GrpcConstraints.Read(request.Sampling, engine) is { } constraint)
            requests = requests.Select(r => r with { Sampling = r.Sampling with { Constraint = constraint } }).ToList();
        // The call's token (client cancel, deadline, disconnect) aborts the engine requests and frees their KV blocks;
        // a submission that fails aborts the ones already queued.
        return (requests, OpenAi.GenerationRunner.SubmitAll(engine, requests, ct));
    }

    /// <summary>Readiness check and error mapping shared by every call that needs the model.</summary>
    private async Task<T> Guard<T>(ServerCallContext context, Func<CancellationToken, Task<T>> body)
    {
        if (!engine.IsReady)
            throw new RpcException(new Status(StatusCode.Unavailable, "The model is still loading; retry shortly."));
        try
        {
            return await body(context.CancellationToken);
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            // The client cancelled or its deadline passed; the runtime reports CANCELLED / DEADLINE_EXCEEDED itself.
            throw;
        }
        catch (Exception e)
        {
            throw GrpcErrors.Map(e, logger);
        }
    }
}
