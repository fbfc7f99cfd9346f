using InferenceServer.Server.Cli;

namespace InferenceServer.Server.Tests.Cli;

/// <summary>Runs the executable's command line in-process with stdout and stderr captured (tests in the "console" collection).</summary>
public static class ConsoleCapture
{
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (stdout, stderr) = (Console.Out, Console.Error);
        using var o = new StringWriter();
        using var e = new StringWriter();
        Console.SetOut(o);
        Console.SetError(e);
        try
        {
            return (CommandLine.Run(args), o.ToString(), e.ToString());
        }
        finally
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
        }
    }
}
