using System.Globalization;
using System.Text.RegularExpressions;

namespace OrleansJobs.PlotterAgent;

/// <summary>The agent's settings: each from <c>--name value</c> (or <c>--name=value</c>) on the command line, else from the environment variable <c>PLOTTER_NAME</c>.</summary>
public sealed partial record AgentOptions(
    Uri Api,
    string Device,
    string Agent,
    string Name,
    int HeartbeatTimeoutSeconds,
    TimeSpan HeartbeatInterval,
    string StrokesPath,
    string ControlPath,
    double StrokeMsScale,
    string? ApiKey = null)
{
    public const string Usage = """
        usage: OrleansJobs.PlotterAgent --api URL --device ID [options]
          --api URL                   the API host, e.g. http://127.0.0.1:8080 (required)
          --api-key KEY               the API key: a worker key naming the device (or an operator's or admin's); better from PLOTTER_API_KEY
          --device ID                 the plotter's device id, e.g. plotter-1 (required; lower-case letters, digits, dashes)
          --agent ID                  this agent's id (default <device>-agent)
          --name TEXT                 the device's display name (default "Simulated plotter <device>")
          --heartbeat-timeout S       seconds of silence after which the device is Offline, registered on it (default 10, 1 to 3600)
          --heartbeat-interval-ms MS  time between heartbeats (default 1000, or a third of the timeout when that is less; at most a third of it)
          --strokes FILE              the stroke log (default .data/plotters/<device>.strokes.jsonl)
          --control FILE              the control file: "disconnect" unplugs the device, "connect" plugs it back (default .data/plotters/<device>.control)
          --stroke-ms-scale X         multiplies the time of every stroke (default 1; 0 to 1000)
        Each option may come from the environment instead: PLOTTER_API, PLOTTER_DEVICE, PLOTTER_HEARTBEAT_INTERVAL_MS, ...
        The command line wins. Ctrl+C or SIGTERM stops the agent after the current stroke, giving its job back at a checkpoint.
        """;

    private static readonly string[] Names =
        ["api", "api-key", "device", "agent", "name", "heartbeat-timeout", "heartbeat-interval-ms", "strokes", "control", "stroke-ms-scale"];

    /// <summary>The options, or why they are not usable.</summary>
    /// <param name="args">The command line.</param>
    /// <param name="environment">Reads an environment variable (null when unset).</param>
    public static (AgentOptions? Options, string? Error) Parse(IReadOnlyList<string> args, Func<string, string?> environment)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in Names)
        {
            if (environment($"PLOTTER_{name.ToUpperInvariant().Replace('-', '_')}") is { Length: > 0 } value)
            {
                values[name] = value;
            }
        }

        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            var equals = arg.IndexOf('=', StringComparison.Ordinal);
            var name = arg.StartsWith("--", StringComparison.Ordinal) ? (equals > 0 ? arg[2..equals] : arg[2..]) : null;
            if (name is null || !Names.Contains(name, StringComparer.Ordinal))
            {
                return (null, $"unknown option '{arg}'");
            }

            if (equals > 0)
            {
                values[name] = arg[(equals + 1)..];
            }
            else if (i + 1 < args.Count)
            {
                values[name] = args[++i];
            }
            else
            {
                return (null, $"--{name} needs a value");
            }
        }

        try
        {
            return (Build(values), null);
        }
        catch (FormatException ex)
        {
            return (null, ex.Message);
        }
    }

    private static AgentOptions Build(Dictionary<string, string> values)
    {
        string? Value(string name) => values.TryGetValue(name, out var value) ? value : null;

        if (!Uri.TryCreate(Value("api"), UriKind.Absolute, out var api) || api.Scheme is not ("http" or "https"))
        {
            throw new FormatException("--api must be the API host's http(s) address, e.g. http://127.0.0.1:8080");
        }

        var device = Value("device") ?? throw new FormatException("--device is required");
        if (!DeviceId().IsMatch(device))
        {
            throw new FormatException($"--device must be 1 to 64 lower-case letters, digits and dashes, starting with a letter or digit (not '{device}')");
        }

        var agent = Value("agent") ?? $"{device}-agent";
        var name = Value("name") ?? $"Simulated plotter {device}";
        if (agent.Trim().Length == 0 || agent.Length > 200 || name.Trim().Length == 0 || name.Length > 200)
        {
            throw new FormatException("--agent and --name must be 1 to 200 characters");
        }

        var timeout = Number("heartbeat-timeout", 10, 1, 3_600);
        var intervalMs = Number("heartbeat-interval-ms", Math.Min(1_000, timeout * 1_000 / 3), 50, int.MaxValue);
        if (intervalMs * 3 > timeout * 1_000)
        {
            // Two heartbeats may be lost (a slow request, a busy machine) before silence turns the device Offline.
            throw new FormatException($"--heartbeat-interval-ms must be at most a third of the heartbeat timeout ({timeout * 1_000 / 3} ms), not {intervalMs}");
        }

        var scaleText = Value("stroke-ms-scale") ?? "1";
        if (!double.TryParse(scaleText, NumberStyles.Float, CultureInfo.InvariantCulture, out var scale) || scale is < 0 or > 1_000)
        {
            throw new FormatException($"--stroke-ms-scale must be a number from 0 to 1000, not '{scaleText}'");
        }

        var folder = Path.Combine(".data", "plotters");
        return new AgentOptions(api, device, agent, name, timeout, TimeSpan.FromMilliseconds(intervalMs),
            Path.GetFullPath(Value("strokes") ?? Path.Combine(folder, $"{device}.strokes.jsonl")),
            Path.GetFullPath(Value("control") ?? Path.Combine(folder, $"{device}.control")),
            scale, Value("api-key"));

        int Number(string option, int fallback, int min, int max)
        {
            var text = Value(option);
            if (text is null)
            {
                return fallback;
            }

            return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number >= min && number <= max
                ? number
                : throw new FormatException($"--{option} must be a whole number from {min} to {max}, not '{text}'");
        }
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,63}$")]
    private static partial Regex DeviceId();
}
