using InferenceServer.Engine.Models;
using InferenceServer.Engine.Models.Architectures;
using InferenceServer.Engine.Parallel;
using InferenceServer.Engine.Requests;
using InferenceServer.Engine.Runtime;
using InferenceServer.Engine.Sampling;
using InferenceServer.Engine.Serving;
using InferenceServer.Engine.Tests.Support;
using InferenceServer.Tokenization;
using InferenceServer.TestSupport;
using static TorchSharp.torch;
using static InferenceServer.Gpu.Tests.TestKernels;

namespace InferenceServer.Gpu.Tests;

/// <summary>
/// The NCCL communicator on this machine's GPUs, and tiny-llama through the multi-rank executor with NCCL at world size
/// 1 (<c>--distributed-executor-backend mp</c>): the parallel layers and their collectives run, and the greedy tokens
/// equal transformers' and the single-device engine's.
/// </summary>
public sealed class CudaNcclTests(CudaFixture cuda) : IClassFixture<CudaFixture>
{
    [Fact]
    public void CollectivesOfAGroupOfOneAreExact()
    {
        var device = cuda.Require();
        var kernels = Kernels();
        GpuReport.Record("nccl_version", kernels.NcclVersion());
        var comm = NcclCommunicator.CreateGroup(kernels, 1)[0];
        try
        {
            using var x = randn([3, 5], ScalarType.Float32, device);
            using var before = x.clone();
            comm.AllReduce(x);
            comm.AllReduce(x, ReduceOp.Max);
            comm.Broadcast(x, 0);
            Assert.True(x.eq(before).all().item<bool>());
            using var t = x.t();                                    // not contiguous: gathered through a copy
            using var gathered = comm.AllGather(t, 1);
            Assert.Equal([5L, 3L], gathered.shape);
            Assert.True(gathered.eq(t).all().item<bool>());
            using var ids = Scalars.Arange(7, ScalarType.Int64, device);
            comm.Broadcast(ids, 0);
            Assert.Equal(21L, ids.sum().item<long>());
        }
        finally
        {
            comm.Dispose();
        }
    }

    [Fact]
    public void MoreRanksThanGpusIsRefusedByName()
    {
        var device = cuda.Require();
        int gpus = TorchSharp.torch.cuda.device_count();
        var e = Assert.Throws<InferenceServer.Engine.Loading.ModelLoadException>(() =>
            ShardedModel.Load(InferenceServer.Engine.Loading.ModelConfig.Load(RepoPaths.TinyLlama),
                new ModelOptions { ModelDir = RepoPaths.TinyLlama, Device = device, Dtype = ScalarType.Float32 }, gpus * 4));
        Assert.Contains($"this machine has {gpus}", e.Message);
    }

    [Fact]
    public async Task GroupOfOneEngineGivesTheReferenceGreedyTokens()
    {
        var device = cuda.Require();
        var reference = ReferenceFile.Load(Path.Combine(RepoPaths.TinyLlama, "reference.json"));
        var options = new ModelOptions { ModelDir = RepoPaths.TinyLlama, Device = device, Dtype = ScalarType.Float32 };
        using var sharded = ShardedModel.Load(InferenceServer.Engine.Loading.ModelConfig.Load(RepoPaths.TinyLlama), options, 1);
        Assert.IsType<NcclCommunicator>(sharded.Communicators[0]);
        var (tokenizer, config) = TokenizerLoader.Load(RepoPaths.TinyLlama);
        var log = new List<string>();
        using var engine = new LlmEngine(sharded, tokenizer, config, new EngineOptions { NumKvBlocks = 256 }, s => { lock (log) log.Add(s); });
        engine.Start();
        var runs = Enumerable.Range(0, 12).Select(async i =>
        {
            var p = reference.Prompts[i % reference.Prompts.Length];
            var ids = new List<int>();
            await foreach (var o in engine.Submit(new GenerationRequest($"r{i}", p.Ids, new SamplingParams { Temperature = 0, MaxTokens = 24, IgnoreEos = true }), TestContext.Current.CancellationToken))
                ids.AddRange(o.TokenIds);
            return (p, ids);
        }).ToList();
        var results = await Task.WhenAll(runs).WaitAsync(TimeSpan.FromMinutes(2), TestContext.Current.CancellationToken);
        Assert.Contains(log, l => l.StartsWith("tensor parallel: 1 ranks", StringComparison.Ordinal));
        Assert.Contains(log, l => l.Contains("captured CUDA graphs"));
        foreach (var (p, ids) in results) Assert.Equal(p.GreedyIds, ids);
        GpuReport.Record("nccl_world1_engine_log", string.Join(" | ", log));
    }
}
