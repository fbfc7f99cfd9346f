using System.CommandLine;
using InferenceServer.Engine.Loading;
using InferenceServer.Quant;
using InferenceServer.Tokenization;

namespace InferenceServer.Server.Cli;

/// <summary>The executable's verbs: serve (the default), perplexity.</summary>
public static class CommandLine
{
    public static int Run(string[] args)
    {
        // The one registry every verb that loads a model resolves --quantization and quant_method through.
        var quantization = QuantMethods.CreateRegistry();
        var root = new RootCommand("LLM inference server: OpenAI-compatible REST and gRPC APIs over quantized models.")
        {
            ServeCommand.Create(quantization),
            PerplexityCommand.Create(quantization),
            BenchCommand.Create(quantization),
            KernelBenchCommand.Create(),
            SamplerBenchCommand.Create(),
            QuantizeCommand.Create(quantization),
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
