using System.CommandLine;
using InferenceServer.Engine.Loading;
using InferenceServer.Tokenization;
using InferenceServer.Quant;

namespace InferenceServer.Server.Cli;

/// <summary>The executable's verbs: serve (the default), perplexity.</summary>
public static class CommandLine
{
    public static int Run(string[] args)
    {
        QuantMethods.RegisterAll();
        var root = new RootCommand("LLM inference server: OpenAI-compatible REST and gRPC APIs over quantized models.")
        {
            ServeCommand.Create(),
            PerplexityCommand.Create(),
            BenchCommand.Create(),
            KernelBenchCommand.Create(),
            QuantizeCommand.Create(),
            PlotCommand.Create(),
        };
        // "serve" is the default verb: `InferenceServer --model X` means `InferenceServer serve --model X`.
        if (args.Length == 0 || (args[0].StartsWith('-') && args[0] is not ("--help" or "-h" or "-?" or "--version")))
            args = ["serve", .. args];
        try
        {
            return root.Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (e is ModelLoadException or TokenizerLoadException or ArgumentException or FileNotFoundException
                                      or DirectoryNotFoundException or InvalidOperationException or NotSupportedException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 2;
        }
    }
}
