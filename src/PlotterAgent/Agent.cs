using Microsoft.Extensions.Logging;
using OrleansJobs.Workers;

namespace OrleansJobs.PlotterAgent;

/// <summary>The agent of one plotter: registers it, heartbeats it, and draws the jobs that own it, one at a time, until stopped.</summary>
public static class Agent
{
    /// <summary>Exit code when the API refused the device or the agent's claims as invalid: a configuration error.</summary>
    public const int Refused = 1;

    public static async Task<int> RunAsync(AgentOptions options, ILoggerFactory loggers, CancellationToken stop)
    {
        var logger = loggers.CreateLogger("plotter");
        logger.LogInformation("Agent {Agent} of plotter {Device}: API {Api}, strokes to {Strokes}", options.Agent, options.Device, options.Api, options.StrokesPath);
        await using var link = DeviceLink.Start(options.ControlPath, logger);
        using var strokes = new StrokeLog(options.StrokesPath);
        // Every request goes through the link, the worker library's too: an unplugged device takes the agent off the network.
        using var http = new HttpClient(new LinkHandler(link) { InnerHandler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(2) } })
        {
            BaseAddress = new Uri(options.Api.AbsoluteUri.TrimEnd('/') + "/"),
        };
        if (options.ApiKey is { } key)
        {
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        }

        var device = new DeviceHeartbeats(http, options, link, logger);
        try
        {
            if (!await device.RegisterAsync(stop))
            {
                return Refused;
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            logger.LogInformation("Agent {Agent} stopped before its device was registered", options.Agent);
            return 0;
        }

        using var heartbeatsStop = new CancellationTokenSource();
        var heartbeats = device.RunAsync(heartbeatsStop.Token);
        try
        {
            var worker = new JobWorkerOptions
            {
                BaseAddress = http.BaseAddress,
                WorkerId = options.Agent,
                Device = options.Device,
                MaxConcurrentJobs = 1,
                // An operator's resume should start the pen within a second or two, not after the default back-off's 5 s.
                MaxClaimDelay = TimeSpan.FromSeconds(2),
            };
            await using var jobs = new JobWorker(worker, http, loggers.CreateLogger("worker"));
            await jobs.RunAsync(new Plotter(options, link, strokes, logger).PlotAsync, stop);
            return 0;
        }
        catch (WorkerApiException ex)
        {
            logger.LogError("The API refused this agent's claims: {Error}", ex.Message);
            return Refused;
        }
        finally
        {
            // Heartbeats last until the job went back: the device stays Online while its job is released.
            await heartbeatsStop.CancelAsync();
            await heartbeats;
            logger.LogInformation("Agent {Agent} stopped", options.Agent);
        }
    }
}
