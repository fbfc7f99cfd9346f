using InferenceServer.Engine.Serving;
using InferenceServer.GrpcApi.V1;
using InferenceServer.Server.Hosting;

namespace InferenceServer.Server.Grpc;

/// <summary>Builds ModelInfoResponse from the engine's config and the serve settings.</summary>
public static class ModelInfoMapping
{
    public static ModelInfoResponse Describe(IInferenceEngine engine, ServerSettings settings, string model)
    {
        var c = engine.Config;
        // The dtype the weights run in is the loaded model's; an engine that does not expose it reports the checkpoint's.
        var dtype = (engine as LlmEngine)?.Model.Dtype ?? c.CheckpointDtype;
        var r = new ModelInfoResponse
        {
            Model = model,
            Architecture = c.Architecture,
            Dtype = dtype?.ToString().ToLowerInvariant() ?? "unknown",
            Quantization = settings.Quantization,
            MaxModelLen = engine.MaxModelLen,
            VocabSize = c.VocabSize,
        };
        r.ServedModelNames.AddRange(settings.ServedModelNames);
        r.EosTokenIds.AddRange(c.EosTokenIds.Concat(engine.Tokenizer.EosTokenId is int e ? [e] : Array.Empty<int>()).Distinct());
        if (engine.Tokenizer.BosTokenId is int bos) r.BosTokenId = bos;
        return r;
    }
}
