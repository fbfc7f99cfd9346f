using System.Runtime.InteropServices;

namespace InferenceServer.Server.Hosting;

/// <summary>
/// Ends the process without running exit handlers. A shutdown that arrives while the model loads cannot wait for the
/// load (minutes of native libtorch work on another thread), and a normal exit would run libtorch's static destructors
/// under that thread: the process then dies with SIGSEGV (exit 139) instead of exiting 0.
/// </summary>
internal static partial class ImmediateExit
{
    public static void Exit(int code)
    {
        Console.Out.Flush();
        Console.Error.Flush();
        if (OperatingSystem.IsWindows()) Environment.Exit(code);
        else ExitNow(code);
    }

    [LibraryImport("libc", EntryPoint = "_exit")]
    private static partial void ExitNow(int code);
}
