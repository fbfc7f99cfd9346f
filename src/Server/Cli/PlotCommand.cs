using System.CommandLine;

namespace InferenceServer.Server.Cli;

/// <summary>
/// <c>plot</c>: draws latency against throughput from bench --output-json files already written (for example sweeps
/// taken on a GPU machine that has no fonts), one colour per file.
/// </summary>
public static class PlotCommand
{
    public static Command Create()
    {
        var inputs = new Argument<string[]>("files") { Description = "bench --output-json files (one run or a --concurrency sweep each).", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--output") { Description = "The PNG to write.", Required = true };
        var title = new Option<string>("--title") { Description = "Title above the plot.", DefaultValueFactory = _ => "Latency against throughput" };
        var cmd = new Command("plot", "Plot TPOT and TTFT (p50) against output tokens/s from earlier bench --output-json files.");
        cmd.Arguments.Add(inputs);
        cmd.Options.Add(output);
        cmd.Options.Add(title);
        cmd.SetAction(p =>
        {
            var series = p.GetValue(inputs)!.Select(f => LatencyThroughputPlot.ReadSeries(f, "plot")).ToList();
            LatencyThroughputPlot.Save(p.GetValue(output)!, p.GetValue(title)!, series, Console.Error.WriteLine);
            return 0;
        });
        return cmd;
    }
}
