using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace OrleansJobs.Safeguards;

/// <summary>
/// Runs the retention policy every <see cref="RetentionOptions.Interval"/>, from the active silo
/// with the lowest address, so the cluster runs it once per interval and a dead silo takes no
/// schedule with it.
/// </summary>
public sealed partial class RetentionSchedule(
    IClusterMembershipService membership, IGrainFactory grains, ILocalSiloDetails localSilo, IOptions<RetentionOptions> options, ILogger<RetentionSchedule> logger)
    : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private Task _running = Task.CompletedTask;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(RetentionSchedule), ServiceLifecycleStage.Active, StartAsync, StopAsync);

    public void Dispose() => _stopping.Dispose();

    private Task StartAsync(CancellationToken cancellationToken)
    {
        _running = Task.Run(() => RunAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        try
        {
            await _running.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Stopping: the schedule ends with the silo.
        }
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(options.Value.Interval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                var leader = membership.CurrentSnapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress).Min();
                if (!localSilo.SiloAddress.Equals(leader))
                {
                    continue;
                }

                try
                {
                    await grains.GetGrain<IRetentionGrain>(0).RunAsync(new PurgeRequest("scheduled", "system", DryRun: false));
                }
                catch (Exception ex) when (ex is not (OperationCanceledException or OutOfMemoryException))
                {
                    LogFailed(logger, ex); // the next interval runs it again
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The silo is stopping.
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The scheduled retention run failed; the next interval runs it again")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}
