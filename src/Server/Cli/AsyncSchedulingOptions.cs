using System.CommandLine;

namespace InferenceServer.Server.Cli;

/// <summary>--async-scheduling / --no-async-scheduling (vLLM's flag), for the verbs that run the engine.</summary>
public sealed class AsyncSchedulingOptions
{
    public Option<bool> On { get; } = new("--async-scheduling") { Description = "Launch each engine step before the previous step's tokens reach the host (default where the native CUDA kernels run)." };
    public Option<bool> Off { get; } = new("--no-async-scheduling") { Description = "Read every step's tokens back before the next step is launched (the default on CPU)." };

    public IEnumerable<Option> All => [On, Off];

    /// <summary>The engine setting: true, false, or null for the device's default.</summary>
    public bool? Value(ParseResult p)
    {
        bool on = p.GetValue(On), off = p.GetValue(Off);
        if (on && off) throw new ArgumentException("--async-scheduling and --no-async-scheduling contradict each other; give one.");
        return on ? true : off ? false : null;
    }
}
