using InferenceServer.Engine.Metrics;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Serving;
using InferenceServer.GrpcApi.V1;
using InferenceServer.Server.Settings;

namespace InferenceServer.Server.Grpc;

/// <summary>Builds ModelInfoResponse from the engine's config and the serve settings.</summary>
public static class ModelInfoMapping
{
    public static ModelInfoResponse Describe(IInferenceEngine engine, ServerSettings settings, string model)
    {
        var c = engine.Config;
        var r = new ModelInfoResponse
        {
            Model = model,
            Architecture = c.Architecture,
            Dtype = engine.Dtype.ToString().ToLowerInvariant(),   // what the model runs in, not the checkpoint's torch_dtype
            Quantization = settings.Quantization,
            MaxModelLen = engine.MaxModelLen,
            VocabSize = c.VocabSize,
            TensorParallelSize = engine.Parallel.TensorParallelSize,
            WeightBytesPerRank = engine.Parallel.WeightBytesPerRank,
            KvCacheBytesPerRank = engine.Parallel.KvCacheBytesPerRank,
        };
        r.ServedModelNames.AddRange(settings.ServedModelNames);
        r.EosTokenIds.AddRange(c.EosTokenIds.Concat(engine.Tokenizer.EosTokenId is int e ? [e] : Array.Empty<int>()).Distinct());
        if (engine.Tokenizer.BosTokenId is int bos) r.BosTokenId = bos;
        return r;
    }
}
