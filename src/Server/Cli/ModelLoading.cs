using InferenceServer.Engine.Models.Architectures;
using System.CommandLine;
using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models;
using InferenceServer.Engine.Models.Quantization;
using InferenceServer.Engine.Runtime;
using InferenceServer.Server.Loading;
using InferenceServer.Tokenization;
using Spectre.Console;
using static TorchSharp.torch;

namespace InferenceServer.Server.Cli;

/// <summary>Turns the shared engine flags into a device, a dtype and a loaded model, with a progress bar.</summary>
public static class ModelLoading
{
    /// <param name="quantization">Resolves both --quantization and a prequantized checkpoint's quant_method.</param>
    /// <param name="wrapQuant">Wraps the (calibrated) quant method before the layers are built; <c>quantize</c> uses it to
    /// see every linear layer's kernel.</param>
    public static LoadedModel Load(ParseResult p, EngineArguments a, QuantizationRegistry quantization, Action<string> log, bool showProgress, Func<IQuantMethod, IQuantMethod>? wrapQuant = null)
    {
        var dir = p.GetValue(a.Model) ?? DefaultModel.TinyLlamaDir();
        if (!Directory.Exists(dir))
            throw new ModelLoadException($"--model {dir}: no such directory ({Path.GetFullPath(dir)}).");
        var device = TorchRuntime.Initialize(p.GetValue(a.Device)!, p.GetValue(a.LibTorch), log,
            debug: LogLevels.Parse(p.GetValue(a.LogLevel)) <= Microsoft.Extensions.Logging.LogLevel.Debug ? log : null);
        var dtypeName = p.GetValue(a.Dtype);
        var dtype = dtypeName is null or "auto" ? TorchRuntime.DefaultDtype(device) : ModelConfig.ParseDtype(dtypeName)!.Value;
        var config = ModelConfig.Load(dir);
        var quant = quantization.ForCheckpoint(config, Path.Combine(dir, "config.json")) is { } prequantized
            ? CheckNoQuantizationFlag(p.GetValue(a.Quantization), prequantized, dir)
            : quantization.Resolve(p.GetValue(a.Quantization), Calibration.QuantOptions(p, a));
        var options = new ModelOptions
        {
            ModelDir = dir,
            Device = device,
            Dtype = dtype,
            LoadFormat = p.GetValue(a.LoadFormat) ?? "auto",   // quantize has no --load-format
            Quantization = quant,
            MaxModelLen = p.GetValue(a.MaxModelLen),
            Seed = p.GetValue(a.Seed),
        };
        log($"model: {dir} ({config.Architecture}, {config.NumLayers} layers, hidden {config.HiddenSize}, vocab {config.VocabSize}), dtype {dtype}, quantization {quant.Name}, weights {options.LoadFormat}");
        var (tokenizer, tokenizerConfig) = p.GetValue(a.SkipTokenizerInit)
            ? new LoadedTokenizer(new TokenIdOnlyTokenizer(config.VocabSize, config.BosTokenId, config.EosTokenIds.FirstOrDefault()), TokenizerConfig.Empty)
            : TokenizerLoader.Load(p.GetValue(a.Tokenizer) ?? dir);
        if (quant is ICalibratedQuantMethod { NeedsCalibration: true } calibrated && options.LoadFormat != "dummy")
            options = Calibration.Run(p, a, calibrated, config, options, tokenizer, log, showProgress);
        if (wrapQuant is not null)
            options = options with { Quantization = wrapQuant(options.Quantization) };
        var started = DateTime.UtcNow;
        int tp = p.GetValue(a.TensorParallelSize) ?? 1;   // serve and bench only; other verbs load the whole model
        string backend = p.GetValue(a.DistributedExecutorBackend) ?? (tp == 1 ? "uni" : "mp");
        if (backend == "uni" && tp != 1)
            throw new ArgumentException($"--distributed-executor-backend uni runs one rank; --tensor-parallel-size {tp} needs mp (or leave the backend out).");
        if (backend == "mp")
            return LoadSharded(config, options, tp, tokenizer, tokenizerConfig, dir, log, started);
        ICausalLM model;
        if (showProgress && !Console.IsOutputRedirected)
        {
            model = null!;
            AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new ElapsedTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask("loading layers", maxValue: config.NumLayers);
                    model = ModelFactory.Load(config, options, (done, _) => task.Value = done);
                });
        }
        else
        {
            model = ModelFactory.Load(config, options, (done, total) =>
            {
                if (done == total || done % Math.Max(1, total / 4) == 0) log($"loaded {done}/{total} layers");
            });
        }
        log($"model loaded in {(DateTime.UtcNow - started).TotalSeconds:F1} s; linear-layer weights {model.LinearWeightBytes / (1024.0 * 1024):F1} MiB");
        return new LoadedModel(model, tokenizer, tokenizerConfig, dir) { Options = options };
    }

    /// <summary>--tensor-parallel-size N: every rank's share, one after another (each layer is built whole, then split).</summary>
    private static LoadedModel LoadSharded(ModelConfig config, ModelOptions options, int size, ITokenizer tokenizer, TokenizerConfig tokenizerConfig,
        string dir, Action<string> log, DateTime started)
    {
        var sharded = ShardedModel.Load(config, options, size, (done, total) =>
        {
            if (done == total || done % Math.Max(1, total / 4) == 0) log($"loaded {done}/{total} layer shares ({size} ranks)");
        });
        log($"model loaded in {(DateTime.UtcNow - started).TotalSeconds:F1} s as {size} tensor-parallel ranks; linear-layer weights per rank " +
            string.Join(", ", sharded.Ranks.Select(m => $"{m.LinearWeightBytes / (1024.0 * 1024):F1}")) + " MiB");
        return new LoadedModel(sharded.Ranks[0], tokenizer, tokenizerConfig, dir) { Options = options, Sharded = sharded };
    }

    /// <summary>A prequantized checkpoint brings its own method; a different --quantization would quantize twice.</summary>
    private static IQuantMethod CheckNoQuantizationFlag(string? flag, IQuantMethod prequantized, string dir)
    {
        if (flag is not null && flag != "none" && !flag.Equals(prequantized.Name, StringComparison.OrdinalIgnoreCase))
            throw new ModelLoadException($"{Path.Combine(dir, "config.json")}: the checkpoint is already quantized ({prequantized.Name}); leave out --quantization {flag}.");
        return prequantized;
    }
}
