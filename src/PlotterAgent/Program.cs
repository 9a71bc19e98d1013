using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using OrleansJobs.PlotterAgent;

// A simulated pen plotter's agent: see docs/plotter-agent.md.
if (args.Any(arg => arg is "-h" or "--help"))
{
    Console.WriteLine(AgentOptions.Usage);
    return 0;
}

var (options, error) = AgentOptions.Parse(args, Environment.GetEnvironmentVariable);
if (options is null)
{
    await Console.Error.WriteLineAsync($"error: {error}\n{AgentOptions.Usage}");
    return 2;
}

using var loggers = LoggerFactory.Create(logging => logging.AddSimpleConsole(console =>
{
    console.SingleLine = true;
    console.UseUtcTimestamp = true;
    console.TimestampFormat = "HH:mm:ss.fff ";
}));
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, signal =>
{
    signal.Cancel = true;
    stop.Cancel();
});
return await Agent.RunAsync(options, loggers, stop.Token);
