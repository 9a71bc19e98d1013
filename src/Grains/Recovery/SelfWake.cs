using Microsoft.Extensions.Logging;

namespace OrleansJobs.Recovery;

/// <summary>
/// Calls a job from outside its activation once that has gone: the call activates it again (a
/// message that reaches a deactivating activation is forwarded to the next one), and the new
/// activation resumes what the old one left. Retried for about five minutes while the cluster
/// settles after a silo loss; a job still not reached then is named in a warning.
/// </summary>
internal static partial class SelfWake
{
    private const int Attempts = 30;

    public static void Start(IGrainFactory grains, string jobId, string why, ILogger logger)
    {
        var job = grains.GetGrain<IRecoverableJob>(jobId);
        LogWakingItself(logger, jobId, why);
        _ = Task.Run(async () =>
        {
            for (var attempt = 1; attempt <= Attempts; attempt++)
            {
                try
                {
                    await job.WakeAsync(why);
                    return;
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    if (attempt == Attempts)
                    {
                        LogSelfWakeFailed(logger, ex, jobId);
                        return;
                    }

                    await Task.Delay(TimeSpan.FromSeconds(Math.Min(attempt, 10)), CancellationToken.None);
                }
            }
        });
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Job {JobId}: {Why} while it runs or waits; it wakes itself in a new activation")]
    private static partial void LogWakingItself(ILogger logger, string jobId, string why);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: it could not be woken in a new activation; any call to it, such as reading it through the API, wakes it")]
    private static partial void LogSelfWakeFailed(ILogger logger, Exception exception, string jobId);
}
