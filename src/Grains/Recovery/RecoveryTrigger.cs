using Microsoft.Extensions.Logging;

namespace OrleansJobs.Recovery;

/// <summary>
/// The silo's side of recovery: asks for a sweep once this silo is active, and again whenever
/// the cluster declares a member dead, so the jobs of a dead silo resume within moments of its
/// eviction instead of on their next watchdog tick. Of the active silos, the one with the lowest
/// address asks, so one change costs one sweep.
/// </summary>
public sealed partial class RecoveryTrigger(
    IClusterMembershipService membership,
    IGrainFactory grains,
    ILocalSiloDetails localSilo,
    ILogger<RecoveryTrigger> logger) : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);
    private const int Attempts = 10;

    private readonly CancellationTokenSource _stopping = new();
    private Task _watching = Task.CompletedTask;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(RecoveryTrigger), ServiceLifecycleStage.Active, StartAsync, StopAsync);

    private Task StartAsync(CancellationToken cancellationToken)
    {
        _watching = Task.Run(() => WatchAsync(_stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        try
        {
            await _watching.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Stopping: the watcher ends with the silo.
        }
    }

    public void Dispose() => _stopping.Dispose();

    private async Task WatchAsync(CancellationToken cancellationToken)
    {
        var me = localSilo.SiloAddress;
        await TriggerAsync($"silo {me.ToParsableString()} started", cancellationToken);

        var known = membership.CurrentSnapshot;
        try
        {
            await foreach (var snapshot in membership.MembershipUpdates.WithCancellation(cancellationToken))
            {
                if (snapshot.Version <= known.Version)
                {
                    continue;
                }

                var died = snapshot.Members.Values
                    .Where(m => m.Status == SiloStatus.Dead && known.GetSiloStatus(m.SiloAddress) is not (SiloStatus.Dead or SiloStatus.None))
                    .Select(m => m.SiloAddress.ToParsableString())
                    .ToList();
                known = snapshot;
                var leader = snapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress).Min();
                if (died.Count > 0 && me.Equals(leader))
                {
                    await TriggerAsync($"silo {string.Join(", ", died)} declared dead", cancellationToken);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The silo is stopping.
        }
    }

    /// <summary>Asks for a sweep, retrying while the recovery grain moves off a dead silo.</summary>
    private async Task TriggerAsync(string reason, CancellationToken cancellationToken)
    {
        for (var attempt = 1; attempt <= Attempts && !cancellationToken.IsCancellationRequested; attempt++)
        {
            try
            {
                await grains.GetGrain<IRecoveryGrain>(IRecoveryGrain.ClusterKey).TriggerAsync(reason).WaitAsync(cancellationToken);
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException and not OutOfMemoryException)
            {
                LogTriggerFailed(logger, ex, reason, attempt);
                await Task.Delay(RetryDelay, cancellationToken);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recovery sweep ({Reason}) could not run (attempt {Attempt}); retrying")]
    private static partial void LogTriggerFailed(ILogger logger, Exception exception, string reason, int attempt);
}
