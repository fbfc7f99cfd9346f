using System.CommandLine;
using System.Text.Json;
using InferenceServer.Engine.Evaluation;
using InferenceServer.Engine.Models.Quantization;
using Spectre.Console;

namespace InferenceServer.Server.Cli;

/// <summary>
/// <c>perplexity</c>: the project's protocol (each line as BOS + tokens + EOS, windows of 256 predictions, the
/// first 48 windows). Under --json the last line is {"perplexity": x, "tokens": n}.
/// </summary>
public static class PerplexityCommand
{
    public static Command Create(QuantizationRegistry quantization)
    {
        var a = new EngineArguments();
        var data = new Option<string?>("--data") { Description = "Text file, one sample per line. Default: the embedded eval.txt." };
        var windows = new Option<int>("--windows") { Description = "Number of windows to score.", DefaultValueFactory = _ => Perplexity.DefaultMaxWindows };
        var windowSize = new Option<int>("--window-size") { Description = "Predictions per window.", DefaultValueFactory = _ => Perplexity.DefaultWindowSize };
        var batch = new Option<int>("--batch") { Description = "Windows per forward pass.", DefaultValueFactory = _ => 4 };
        var json = new Option<bool>("--json") { Description = "Print plain log lines and end with one JSON line instead of a progress bar." };
        var cmd = new Command("perplexity", "Measure perplexity on a text file with the shared windowed protocol.");
        foreach (var o in a.Loading.Concat(a.Quantizing)) cmd.Options.Add(o);
        cmd.Options.Add(data);
        cmd.Options.Add(windows);
        cmd.Options.Add(windowSize);
        cmd.Options.Add(batch);
        cmd.Options.Add(json);
        cmd.SetAction(p =>
        {
            bool asJson = p.GetValue(json);
            Action<string> log = asJson ? Console.Error.WriteLine : Console.WriteLine;
            var path = p.GetValue(data) ?? Path.Combine(DefaultModel.AssetsDir(), "data", "eval.txt");
            if (!File.Exists(path))
                throw new FileNotFoundException($"--data {path}: no such file ({Path.GetFullPath(path)}).");
            using var loaded = ModelLoading.Load(p, a, quantization, log, showProgress: !asJson);
            var tok = loaded.Tokenizer;
            if (tok.BosTokenId is not int bos || tok.EosTokenId is not int eos)
                throw new InvalidOperationException($"{loaded.ModelDir}: the tokenizer has no BOS or EOS token, which the protocol needs.");
            var lines = File.ReadAllText(path).Split('\n');
            if (lines.Length > 0 && lines[^1].Length == 0) lines = lines[..^1]; // a trailing newline ends the last line
            var stream = Perplexity.BuildStream(lines, l => tok.Encode(l, addSpecialTokens: false), bos, eos);
            log($"{Path.GetFullPath(path)}: {lines.Length} lines, {stream.Count} tokens");
            PerplexityResult result;
            if (asJson || Console.IsOutputRedirected)
            {
                result = Perplexity.Evaluate(loaded.Model, stream, p.GetValue(windowSize), p.GetValue(windows), p.GetValue(batch));
            }
            else
            {
                result = null!;
                AnsiConsole.Progress()
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new ElapsedTimeColumn())
                    .Start(ctx =>
                    {
                        var task = ctx.AddTask("scoring windows");
                        result = Perplexity.Evaluate(loaded.Model, stream, p.GetValue(windowSize), p.GetValue(windows), p.GetValue(batch),
                            (done, total) => { task.MaxValue = total; task.Value = done; });
                    });
            }
            if (asJson)
                Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object> { ["perplexity"] = result.Perplexity, ["tokens"] = result.Tokens }));
            else
                Console.WriteLine($"perplexity {result.Perplexity:F4} over {result.Tokens} predictions (mean NLL {result.MeanNll:F5})");
            return 0;
        });
        return cmd;
    }
}
