using Microsoft.Extensions.Logging;

namespace OrleansJobs.Safeguards;

/// <summary>
/// A cluster task run every <see cref="Interval"/> by the active silo with the lowest address, so the
/// cluster runs it once per interval and a dead silo takes no schedule with it. With
/// <see cref="RunAtStart"/>, a silo that leads when it starts runs it at once.
/// </summary>
public abstract partial class LeaderSchedule(
    IClusterMembershipService membership, ILocalSiloDetails localSilo, ILogger logger) : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private Task _running = Task.CompletedTask;

    /// <summary>The task's name, in logs.</summary>
    protected abstract string Name { get; }

    protected abstract TimeSpan Interval { get; }

    protected virtual bool RunAtStart => false;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(GetType().Name, ServiceLifecycleStage.Active, StartAsync, StopAsync);

    public void Dispose()
    {
        _stopping.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Runs the task once (<paramref name="reason"/>: "scheduled", or "silo start"); failures are logged and the next interval runs it again.</summary>
    protected abstract Task RunOnceAsync(string reason, CancellationToken cancellationToken);

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
        using var timer = new PeriodicTimer(Interval);
        try
        {
            if (RunAtStart)
            {
                await RunIfLeaderAsync("silo start", cancellationToken);
            }

            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                await RunIfLeaderAsync("scheduled", cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The silo is stopping.
        }
    }

    private async Task RunIfLeaderAsync(string reason, CancellationToken cancellationToken)
    {
        var leader = membership.CurrentSnapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress).Min();
        if (!localSilo.SiloAddress.Equals(leader))
        {
            return;
        }

        try
        {
            await RunOnceAsync(reason, cancellationToken);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A call's own cancellation too is logged and tried again: only the silo's stop ends the schedule.
            if (!cancellationToken.IsCancellationRequested)
            {
                LogFailed(logger, ex, Name);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The scheduled {Task} failed; the next interval runs it again")]
    private static partial void LogFailed(ILogger logger, Exception exception, string task);
}
