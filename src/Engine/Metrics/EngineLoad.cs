namespace InferenceServer.Engine.Metrics;

/// <summary>A snapshot of the engine's load, for /metrics, GetLoad and admission.</summary>
public sealed record EngineLoad(int Running, int Waiting, int KvBlocksTotal, int KvBlocksFree, int BlockSize)
{
    public double KvUsage => KvBlocksTotal == 0 ? 0 : 1.0 - (double)KvBlocksFree / KvBlocksTotal;
}
