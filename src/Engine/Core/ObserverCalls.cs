using InferenceServer.Engine.Metrics;

namespace InferenceServer.Engine.Core;

internal static class ObserverCalls
{
    /// <summary>Calls the observer, if any, so that a failing observer never takes the engine thread down.</summary>
    public static void Safely(this IEngineObserver? observer, Action<IEngineObserver> call, Action<string> log)
    {
        if (observer is null) return;
        try { call(observer); }
        catch (Exception e) { log($"engine observer failed: {e.Message}"); }
    }
}
