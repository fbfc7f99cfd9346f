using System.Threading.Channels;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Scheduling;

namespace InferenceServer.Engine.Core;

/// <summary>A request the core serves, with the channel its per-step outputs go to (read on the request side).</summary>
public sealed class ActiveRequest(Request request)
{
    public Request Request { get; } = request;

    /// <summary>Set before its abort is queued, so the core drops the request even if it has not taken it yet.</summary>
    public volatile bool Aborted;

    public Channel<CoreOutput> Output { get; } = Channel.CreateUnbounded<CoreOutput>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
}

/// <summary>An abort: the client went away (<see cref="FinishReason.Abort"/>), or the request side found a stop string
/// (<see cref="FinishReason.Stop"/>, with the output tokens the client received).</summary>
internal readonly record struct AbortRequest(ActiveRequest Request, FinishReason Reason, int? OutputTokens);
