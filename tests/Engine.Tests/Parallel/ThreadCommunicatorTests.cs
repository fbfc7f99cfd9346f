using InferenceServer.Engine.Parallel;
using TorchSharp;
using static TorchSharp.torch;

namespace InferenceServer.Engine.Tests.Parallel;

/// <summary>The CPU communicator's collectives across ranks on threads, and a failing rank breaking the group.</summary>
public sealed class ThreadCommunicatorTests
{
    /// <summary>Runs <paramref name="work"/> on every rank of a new group, each on its own thread; returns each rank's result.</summary>
    private static T[] OnRanks<T>(int size, Func<ICommunicator, T> work, TimeSpan? timeout = null)
    {
        var comms = ThreadCommunicator.CreateGroup(size, timeout);
        var tasks = comms.Select(c => Task.Factory.StartNew(() => work(c), TaskCreationOptions.LongRunning)).ToArray();
        Assert.True(Task.WaitAll(tasks, TimeSpan.FromSeconds(30)), "the ranks did not finish");
        return tasks.Select(t => t.Result).ToArray();
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void AllReduceSumsAndMaxesInRankOrderOnEveryRank(int size)
    {
        var results = OnRanks(size, c =>
        {
            using var sum = tensor(new[] { 1f * (c.Rank + 1), 10f * c.Rank });
            c.AllReduce(sum);
            using var max = tensor(new[] { c.Rank, -c.Rank });
            c.AllReduce(max, ReduceOp.Max);
            using var ints = tensor(new[] { 1 << 30, c.Rank });        // int32: exact, as W8A8's accumulators need
            c.AllReduce(ints);
            return (sum.data<float>().ToArray(), max.data<int>().ToArray(), ints.data<int>().ToArray());
        });
        float n = size;
        foreach (var (sum, max, ints) in results)
        {
            Assert.Equal(new[] { n * (n + 1) / 2, 10 * n * (n - 1) / 2 }, sum);
            Assert.Equal(new[] { size - 1, 0 }, max);
            Assert.Equal(new[] { unchecked((1 << 30) * size), size * (size - 1) / 2 }, ints);
        }
    }

    [Fact]
    public void AllGatherConcatenatesInRankOrderAndBroadcastCopiesTheRoot()
    {
        var results = OnRanks(3, c =>
        {
            using var rank = ((float)c.Rank).ToScalar();
            using var mine = full([2, 1], rank);
            using var gathered = c.AllGather(mine, 1);                // [2, 3]
            using var b = tensor(new[] { c.Rank * 1.5f });
            c.Broadcast(b, root: 2);
            return (gathered.data<float>().ToArray(), b.item<float>());
        });
        foreach (var (gathered, b) in results)
        {
            Assert.Equal(new float[] { 0, 1, 2, 0, 1, 2 }, gathered);
            Assert.Equal(3f, b);
        }
    }

    [Fact]
    public void RanksThatDisagreeOnAShapeFailInsteadOfMixingTensors()
    {
        var comms = ThreadCommunicator.CreateGroup(2);
        var tasks = comms.Select(c => Task.Factory.StartNew(() =>
        {
            using var t = zeros(c.Rank + 1);
            c.AllReduce(t);
        }, TaskCreationOptions.LongRunning)).ToArray();
        var e = Assert.Throws<AggregateException>(() => Task.WaitAll(tasks, TimeSpan.FromSeconds(30)));
        Assert.Contains("ranks disagree", e.Flatten().InnerExceptions[0].ToString());
    }

    [Fact]
    public void AnAbortedRankReleasesTheRanksWaitingForIt()
    {
        var comms = ThreadCommunicator.CreateGroup(2, TimeSpan.FromMinutes(5));
        var waiting = Task.Factory.StartNew(() =>
        {
            using var t = zeros(4);
            comms[0].AllReduce(t);
        }, TaskCreationOptions.LongRunning);
        Thread.Sleep(100);
        comms[1].Abort(new InvalidOperationException("rank 1 ran out of memory"));
        var e = Assert.Throws<AggregateException>(() => waiting.Wait(10_000, TestContext.Current.CancellationToken));
        Assert.Contains("rank 1 ran out of memory", e.InnerExceptions[0].Message);
    }

    [Fact]
    public void ARankThatNeverComesTimesOut()
    {
        var comms = ThreadCommunicator.CreateGroup(2, TimeSpan.FromMilliseconds(200));
        using var t = zeros(1);
        var e = Assert.Throws<InvalidOperationException>(() => comms[0].AllReduce(t));
        Assert.Contains("waited", e.Message);
    }
}
