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
            await foreach (var o in Submit(request, ct))
                await responseStream.WriteAsync(GrpcRequestMapping.ToResponse(o, engine.Tokenizer), ct);
            return 0;
        });

    public override Task<CompleteResponse> Complete(GenerateRequest request, ServerCallContext context) =>
        Guard(context, async ct =>
        {
            var r = new CompleteResponse();
            var text = new StringBuilder();
            await foreach (var o in Submit(request, ct))
            {
                var piece = GrpcRequestMapping.ToResponse(o, engine.Tokenizer);
                r.TokenIds.AddRange(piece.TokenIds);
                r.Logprobs.AddRange(piece.Logprobs);
                text.Append(piece.Text);
                if (piece.Finish != null) r.Finish = piece.Finish;
            }
            r.Text = text.ToString();
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

    private IAsyncEnumerable<GenerationOutput> Submit(GenerateRequest request, CancellationToken ct)
    {
        GrpcErrors.CheckModel(request.Model, settings);
        // The call's token (client cancel, deadline, disconnect) aborts the engine request and frees its KV blocks.
        var generation = GrpcRequestMapping.ToEngine(request, engine.Tokenizer);
        if (GrpcConstraints.Read(request.Sampling, engine) is { } constraint)
            generation = generation with { Sampling = generation.Sampling with { Constraint = constraint } };
        return engine.Submit(generation, ct);
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
