using System.CommandLine;
using System.Globalization;
using InferenceServer.Engine.Loading;
using InferenceServer.Engine.Models;
using InferenceServer.Engine.Models.Quantization;
using InferenceServer.Quant.ZeroQuant;
using InferenceServer.Tokenization;
using Spectre.Console;

namespace InferenceServer.Server.Cli;

/// <summary>The calibration step of quant methods that need one (smoothquant, w8a8 --act-scales static, zeroquant --lkd-steps), with a progress bar.</summary>
public static class Calibration
{
    /// <summary>The method-specific flags, under their names without dashes (what the methods read).</summary>
    public static QuantMethodOptions QuantOptions(ParseResult p, EngineArguments a)
    {
        var values = new Dictionary<string, string>();
        if (p.GetValue(a.SmoothQuantAlpha) is double alpha) values["smoothquant-alpha"] = alpha.ToString(CultureInfo.InvariantCulture);
        if (p.GetValue(a.ActScales) is string mode) values["act-scales"] = mode;
        if (p.GetValue(a.CalibrationSamples) is int n) values["calibration-samples"] = n.ToString(CultureInfo.InvariantCulture);
        if (p.GetValue(a.CalibrationSeqLen) is int len) values["calibration-seq-len"] = len.ToString(CultureInfo.InvariantCulture);
        if (p.GetValue(a.WeightBits) is int bits) values["weight-bits"] = bits.ToString(CultureInfo.InvariantCulture);
        if (p.GetValue(a.GroupSize) is int group) values["group-size"] = group.ToString(CultureInfo.InvariantCulture);
        if (p.GetValue(a.WeightSymmetric) is bool sym) values["weight-symmetric"] = sym ? "true" : "false";
        if (p.GetValue(a.ActBits) is int act) values["act-bits"] = act.ToString(CultureInfo.InvariantCulture);
        if (p.GetValue(a.MixedPrecision)) values["mixed-precision"] = "true";
        if (p.GetValue(a.QuantOverride) is { Length: > 0 } overrides) values["quant-override"] = string.Join('\n', overrides);
        if (p.GetValue(a.QuantOverridesFile) is string file) values["quant-overrides-file"] = file;
        if (p.GetValue(a.LkdSteps) is int steps) values["lkd-steps"] = steps.ToString(CultureInfo.InvariantCulture);
        if (p.GetValue(a.LkdLr) is double lr) values["lkd-lr"] = lr.ToString("R", CultureInfo.InvariantCulture);
        if (p.GetValue(a.LkdBatchSize) is int lkdBatch) values["lkd-batch-size"] = lkdBatch.ToString(CultureInfo.InvariantCulture);
        if (p.GetValue(a.LkdSeqLen) is int lkdLen) values["lkd-seq-len"] = lkdLen.ToString(CultureInfo.InvariantCulture);
        if (p.GetValue(a.BcqInit) is string init) values["bcq-init"] = init;
        if (p.GetValue(a.BcqIterations) is int rounds) values["bcq-iterations"] = rounds.ToString(CultureInfo.InvariantCulture);
        if (p.GetValue(a.LutGemmKernel) is string lutKernel) values["lutgemm-kernel"] = lutKernel;
        return new QuantMethodOptions { Values = values };
    }

    public static ModelOptions Run(ParseResult p, EngineArguments a, ICalibratedQuantMethod method, ModelConfig config, ModelOptions options,
        ITokenizer tokenizer, Action<string> log, bool showProgress)
    {
        var path = p.GetValue(a.CalibrationData) ?? Path.Combine(DefaultModel.AssetsDir(), "data", "calibration.txt");
        if (!File.Exists(path))
            throw new FileNotFoundException($"--calibration-data {path}: no such file ({Path.GetFullPath(path)}).");
        if (tokenizer.BosTokenId is not int bos || tokenizer.EosTokenId is not int eos)
            throw new InvalidOperationException("calibration needs a tokenizer with BOS and EOS tokens (not --skip-tokenizer-init).");
        if (method is ZeroQuantMethod zeroQuant) zeroQuant.Log = log;   // LKD's per-block losses
        var (samples, seqLen) = method.CalibrationShape;
        // The same layout as the perplexity stream; lines are encoded only until the windows are full.
        var stream = new List<int>();
        foreach (var line in File.ReadLines(path))
        {
            if (stream.Count >= (long)samples * seqLen) break;
            stream.Add(bos);
            stream.AddRange(tokenizer.Encode(line, addSpecialTokens: false));
            stream.Add(eos);
        }
        int windows = Math.Min(samples, stream.Count / seqLen);
        log($"calibration: {path}, {windows} samples of {seqLen} tokens{(windows < samples ? $" (the text holds no more than {windows})" : "")}");
        var started = DateTime.UtcNow;
        ModelOptions result;
        if (showProgress && !Console.IsOutputRedirected)
        {
            result = null!;
            AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new ElapsedTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask("calibrating", maxValue: Math.Max(1, windows));
                    result = method.Calibrate(config, options, stream, (done, total) => { task.MaxValue = total; task.Value = done; });
                });
        }
        else
        {
            result = method.Calibrate(config, options, stream, (done, total) =>
            {
                if (done == total || done % Math.Max(1, total / 4) == 0) log($"calibration {done}/{total}");
            });
        }
        log($"calibration took {(DateTime.UtcNow - started).TotalSeconds:F1} s");
        return result;
    }
}
