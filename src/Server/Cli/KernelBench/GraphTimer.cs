using System.Diagnostics;
using InferenceServer.Engine.Kernels;
using static TorchSharp.torch;

namespace InferenceServer.Server.Cli.KernelBench;

/// <summary>Times an op as the mean over replays of a CUDA graph holding <c>iters</c> back-to-back calls.</summary>
public sealed class GraphTimer(NativeKernels kernels, int iters)
{
    public double Microseconds(Func<Tensor> op)
    {
        op().Dispose(); // warm-up outside the capture (lazy initialisation, cuBLAS handles)
        var graph = kernels.GraphNew();
        try
        {
            kernels.GraphCaptureBegin(graph, IntPtr.Zero);
            try
            {
                for (int i = 0; i < iters; i++) op().Dispose();
            }
            finally
            {
                kernels.GraphCaptureEnd(graph);
            }
            kernels.GraphReplay(graph);
            cuda.synchronize();
            const int replays = 10;
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < replays; i++) kernels.GraphReplay(graph);
            cuda.synchronize();
            return sw.Elapsed.TotalMicroseconds / (replays * iters);
        }
        finally
        {
            kernels.GraphDelete(graph);
        }
    }
}
