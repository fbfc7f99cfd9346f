using System.Text;
using InferenceServer.Server.Cli;

namespace InferenceServer.Server.Tests.Cli;

/// <summary>
/// Runs the executable's command line in-process with stdout and stderr captured. The capture belongs to the calling
/// flow: Console.Out and Console.Error are replaced once by writers that route each write to the capture of the flow it
/// comes from (an AsyncLocal, which tasks and threads started inside the run inherit), or to the real console. So a
/// server that another test class runs at the same moment cannot write its log lines into this run's output.
/// </summary>
public static class ConsoleCapture
{
    private sealed class Capture
    {
        public readonly StringBuilder Out = new(), Err = new();
        public volatile bool Open = true;   // writes after the run (a late log line) go to the real console
    }

    private static readonly AsyncLocal<Capture?> Current = new();
    private static readonly Lazy<bool> Installed = new(() =>
    {
        Console.SetOut(new RoutingWriter(Console.Out, c => c.Out));
        Console.SetError(new RoutingWriter(Console.Error, c => c.Err));
        return true;
    });

    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        _ = Installed.Value;
        var capture = new Capture();
        var previous = Current.Value;
        Current.Value = capture;
        try
        {
            int code = CommandLine.Run(args);
            lock (capture) return (code, capture.Out.ToString(), capture.Err.ToString());
        }
        finally
        {
            capture.Open = false;
            Current.Value = previous;
        }
    }

    private sealed class RoutingWriter(TextWriter console, Func<Capture, StringBuilder> stream) : TextWriter
    {
        public override Encoding Encoding => console.Encoding;

        private void Emit(string? text, bool line)
        {
            if (Current.Value is { Open: true } capture)
            {
                lock (capture)
                {
                    var sb = stream(capture);
                    if (line) sb.AppendLine(text);
                    else sb.Append(text);
                }
            }
            else if (line) console.WriteLine(text);
            else console.Write(text);
        }

        public override void Write(char value) => Emit(value.ToString(), false);
        public override void Write(string? value) => Emit(value, false);
        public override void Write(char[] buffer, int index, int count) => Emit(new string(buffer, index, count), false);
        public override void WriteLine() => Emit(null, true);
        public override void WriteLine(string? value) => Emit(value, true);
        public override void Flush() => console.Flush();
    }
}
