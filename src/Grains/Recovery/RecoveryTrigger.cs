using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansJobs.Jobs.Watchdog;

namespace OrleansJobs.Recovery;

/// <summary>
/// The silo's side of recovery: asks for a sweep once this silo is active, whenever the cluster
/// declares a member dead (so the jobs of a dead silo resume within moments of its eviction
/// instead of on their next watchdog tick), and every <see cref="WatchdogOptions.RecoveryInterval"/>.
/// Of the active silos, the one with the lowest address asks, so one change costs one sweep; the
/// periodic sweep is driven from here, by a live silo, not by a timer that could die with the
/// recovery grain's silo.
/// </summary>
public sealed partial class RecoveryTrigger(
    IClusterMembershipService membership,
    IGrainFactory grains,
    ILocalSiloDetails localSilo,
    IOptions<WatchdogOptions> options,
    ILogger<RecoveryTrigger> logger) : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);
    private const int Attempts = 60;
    private const int FollowUps = 10;
    private static readonly TimeSpan FollowUpDelay = TimeSpan.FromSeconds(1);

    private readonly CancellationTokenSource _stopping = new();
    private Task _watching = Task.CompletedTask;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(RecoveryTrigger), ServiceLifecycleStage.Active, StartAsync, StopAsync);

    private Task StartAsync(CancellationToken cancellationToken)
    {
        _watching = Task.WhenAll(
            Task.Run(() => WatchAsync(_stopping.Token), CancellationToken.None),
            Task.Run(() => PeriodicAsync(_stopping.Token), CancellationToken.None));
        return Task.CompletedTask;
    }

    private async Task PeriodicAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(options.Value.RecoveryInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                if (IsLeader(membership.CurrentSnapshot))
                {
                    await TriggerAsync("periodic", membership.CurrentSnapshot.Version.Value, cancellationToken);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The silo is stopping.
        }
    }

    private bool IsLeader(ClusterMembershipSnapshot snapshot) =>
        localSilo.SiloAddress.Equals(snapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress).Min());

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
        await TriggerAsync($"silo {me.ToParsableString()} started", membership.CurrentSnapshot.Version.Value, cancellationToken);

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
                if (died.Count > 0 && IsLeader(snapshot))
                {
                    await TriggerAsync($"silo {string.Join(", ", died)} declared dead", snapshot.Version.Value, cancellationToken);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The silo is stopping.
        }
    }

    /// <summary>
    /// Asks for a sweep, retrying while the recovery grain moves off a dead silo. A sweep that could
    /// not reach some jobs (right after a death the directory may still route to the dead silo) is
    /// followed by another a moment later, a few times, instead of leaving them to the periodic one.
    /// </summary>
    private async Task TriggerAsync(string reason, long membershipVersion, CancellationToken cancellationToken)
    {
        for (var attempt = 1; attempt <= Attempts && !cancellationToken.IsCancellationRequested; attempt++)
        {
            try
            {
                var run = await grains.GetGrain<IRecoveryGrain>(IRecoveryGrain.ClusterKey).TriggerAsync(reason, membershipVersion).WaitAsync(cancellationToken);
                for (var followUp = 1; run.Failed > 0 && followUp <= FollowUps && !cancellationToken.IsCancellationRequested; followUp++)
                {
                    LogFollowUp(logger, run.Failed, reason, followUp);
                    await Task.Delay(FollowUpDelay, cancellationToken);
                    run = await grains.GetGrain<IRecoveryGrain>(IRecoveryGrain.ClusterKey)
                        .TriggerAsync($"{reason} (follow-up {followUp})", membershipVersion).WaitAsync(cancellationToken);
                }

                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException and not OutOfMemoryException)
            {
                LogTriggerFailed(logger, ex, reason, attempt);
                await Task.Delay(RetryDelay, cancellationToken);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Recovery sweep ({Reason}) could not reach {Failed} job(s); follow-up sweep {FollowUp} shortly")]
    private static partial void LogFollowUp(ILogger logger, int failed, string reason, int followUp);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recovery sweep ({Reason}) could not run (attempt {Attempt}); retrying")]
    private static partial void LogTriggerFailed(ILogger logger, Exception exception, string reason, int attempt);
}
