using static TorchSharp.torch;

namespace InferenceServer.Engine.Parallel;

/// <summary>A group of one: every collective is the identity.</summary>
public sealed class SingleRankCommunicator : ICommunicator
{
    public static readonly SingleRankCommunicator Instance = new();

    public int Rank => 0;
    public int WorldSize => 1;

    public void AllReduce(Tensor tensor, ReduceOp op = ReduceOp.Sum) { }

    public Tensor AllGather(Tensor tensor, int dim) => tensor.alias();

    public void Broadcast(Tensor tensor, int root) { }

    public void Abort(Exception reason) { }

    public void Dispose() { }
}
