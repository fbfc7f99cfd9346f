using System.CommandLine;

namespace InferenceServer.Server.Cli;

/// <summary><c>--log-level</c>: the names users know from vLLM/SGLang (debug, info, warning, error, critical) and .NET's.</summary>
public static class LogLevels
{
    private static readonly Dictionary<string, LogLevel> Names = new(StringComparer.OrdinalIgnoreCase)
    {
        ["trace"] = LogLevel.Trace, ["debug"] = LogLevel.Debug, ["info"] = LogLevel.Information, ["information"] = LogLevel.Information,
        ["warning"] = LogLevel.Warning, ["warn"] = LogLevel.Warning, ["error"] = LogLevel.Error, ["critical"] = LogLevel.Critical, ["none"] = LogLevel.None,
    };

    public static Option<string> CreateOption()
    {
        var o = new Option<string>("--log-level")
        {
            Description = "trace, debug, info, warning, error, critical or none. info (default): one line per request; debug adds engine and framework detail (e.g. why CUDA did not start).",
            DefaultValueFactory = _ => "info",
        };
        o.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string>() is { } v && !Names.ContainsKey(v))
                r.AddError($"--log-level {v}: expected trace, debug, info, warning, error, critical or none.");
        });
        return o;
    }

    public static LogLevel Parse(string? name) => name is not null && Names.TryGetValue(name, out var l) ? l : LogLevel.Information;
}
