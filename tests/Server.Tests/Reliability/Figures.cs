namespace InferenceServer.Server.Tests.Reliability;

/// <summary>
/// Prints a test's measured figures to its output (and the console); with INFERENCE_TEST_FIGURES=FILE set, also
/// appends them to FILE, which is how docs/reliability.md's figures are collected from a passing run.
/// </summary>
internal static class Figures
{
    public static void Report(string line)
    {
        TestContext.Current.TestOutputHelper?.WriteLine(line);
        Console.WriteLine(line);
        if (Environment.GetEnvironmentVariable("INFERENCE_TEST_FIGURES") is { Length: > 0 } file)
            lock (typeof(Figures)) File.AppendAllText(file, $"{DateTime.UtcNow:u} {line}{Environment.NewLine}");
    }
}
