using System.CommandLine;
using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models.Quantization;
using InferenceServer.Quant.CompressedTensors;
using InferenceServer.Quant.LutGemm;
using Spectre.Console;

namespace InferenceServer.Server.Cli;

/// <summary>
/// <c>quantize</c>: calibrates and quantizes a checkpoint once (the same flags as <c>serve</c> and <c>perplexity</c>)
/// and writes it as a prequantized folder (compressed-tensors: int-quantized for smoothquant and w8a8, pack-quantized
/// for zeroquant; lutgemm's BCQ tensors for lutgemm), which <c>serve --model OUT</c> then loads without calibrating.
/// </summary>
public static class QuantizeCommand
{
    public static Command Create(QuantizationRegistry quantization)
    {
        var a = new EngineArguments();
        var output = new Option<string>("--output", "-o") { Description = "Folder to write the quantized checkpoint to (must not exist or be empty).", Required = true };
        var cmd = new Command("quantize", "Quantize a checkpoint (smoothquant, w8a8, zeroquant or lutgemm) and save it (compressed-tensors, or BCQ for lutgemm).");
        foreach (var o in a.LoadingRealWeights.Concat(a.Quantizing)) cmd.Options.Add(o);
        cmd.Options.Add(output);
        cmd.SetAction(p =>
        {
            var outDir = p.GetValue(output)!;
            var method = p.GetValue(a.Quantization);
            if (method is not ("smoothquant" or "w8a8" or "zeroquant" or LutGemmMethod.MethodName))
                throw new ArgumentException($"--quantization {method ?? "(none)"}: quantize writes smoothquant, w8a8, zeroquant or lutgemm checkpoints; name one of them.");
            if (Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any())
                throw new ArgumentException($"--output {outDir}: the folder exists and is not empty.");
            CapturingQuantMethod? capture = null;
            using var loaded = ModelLoading.Load(p, a, quantization, Console.Error.WriteLine, showProgress: !Console.IsErrorRedirected,
                wrapQuant: m => capture = new CapturingQuantMethod(m));
            var options = loaded.Options!;
            using var checkpoint = new Checkpoint(loaded.ModelDir);
            IWeightSource source = new CheckpointWeightSource(checkpoint);
            if (options.WeightTransform is { } transform) source = transform(source);
            var started = DateTime.UtcNow;
            (int Tensors, long Bytes) result = default;
            void Write(Action<int, int>? progress) => result = capture!.Inner is LutGemmMethod lutgemm
                ? LutGemmCheckpoint.Write(outDir, checkpoint, source, options.Dtype, capture.Layers, lutgemm.Options, progress)
                : CompressedTensorsWriter.Write(outDir, checkpoint, source, options.Dtype, capture.Layers, progress, capture.Skipped);
            if (Console.IsErrorRedirected)
                Write(null);
            else
                AnsiConsole.Progress()
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new ElapsedTimeColumn())
                    .Start(ctx =>
                    {
                        var task = ctx.AddTask("writing tensors");
                        Write((done, total) => { task.MaxValue = total; task.Value = done; });
                    });
            var name = ServedModelName.Default(p.GetValue(a.Model), loaded.ModelDir);
            ServedModelName.CarryInto(outDir, name);
            Console.Error.WriteLine($"wrote {outDir}: {result.Tensors} tensors, {result.Bytes / (1024.0 * 1024):F1} MiB, " +
                $"{capture!.Name} as {(capture.Inner is LutGemmMethod ? "lutgemm BCQ" : "compressed-tensors")} in {(DateTime.UtcNow - started).TotalSeconds:F1} s. Serve it as \"{name}\" with: InferenceServer serve --model {outDir}");
            return 0;
        });
        return cmd;
    }
}
