using InferenceServer.Engine.Metrics;

namespace InferenceServer.Engine.Core;

/// <param name="AsyncScheduling">Launch each step before the previous step's samples reach the host.</param>
/// <param name="MaxQueued">Requests allowed in the engine (running and waiting); beyond this, submission is refused.</param>
/// <param name="Profiler">Where step phases are timed (INFERENCE_PROFILE_STEPS=1), or null.</param>
public sealed record EngineCoreOptions(bool AsyncScheduling, int MaxQueued, StepProfiler? Profiler);
