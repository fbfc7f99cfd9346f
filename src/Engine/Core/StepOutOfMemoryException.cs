using System.Runtime.InteropServices;

namespace InferenceServer.Engine.Core;

/// <summary>
/// Ends the streams of the requests in a step that ran out of device memory. The engine keeps serving: the step's
/// requests are finished (their KV blocks freed, the runner told to drop them) and the next step runs without them.
/// The server answers it with 503 (gRPC UNAVAILABLE).
/// </summary>
public sealed class StepOutOfMemoryException(Exception cause)
    : Exception("The device ran out of memory while running this request's step, so the request was stopped; retry, or send fewer or shorter requests at once.", cause)
{
    /// <summary>
    /// Whether <paramref name="e"/> (or an exception inside it) is an allocation failure. TorchSharp raises every
    /// libtorch error as <see cref="ExternalException"/>; CUDA's says "CUDA out of memory", the CPU allocator's
    /// "not enough memory".
    /// </summary>
    public static bool IsOutOfMemory(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is OutOfMemoryException) return true;
            if (e is ExternalException && (e.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase)
                                           || e.Message.Contains("not enough memory", StringComparison.OrdinalIgnoreCase)))
                return true;
        }
        return false;
    }
}
