using Microsoft.Extensions.Logging;

namespace OrleansJobs.Jobs.Watchdog;

/// <summary>
/// A running job's watchdog reminder: registered once the job has run for
/// <see cref="WatchdogOptions.RegisterAfter"/> (a shorter run never writes one: two commits saved
/// per job), removed when it stops running. A tick re-activates the job if its silo died and lets
/// the lifecycle look at the run. Waiting jobs need none: nothing of them can stall, and the
/// recovery sweep finds them through <c>watched_by</c>.
/// </summary>
internal sealed partial class WatchdogReminder(Grain grain, Func<JobState> job, WatchdogOptions options, string jobId, ILogger logger)
{
    public const string Name = "watchdog";

    private static readonly TimeSpan RegistrationRetry = TimeSpan.FromSeconds(5);

    private IGrainTimer? _registerTimer;
    private IGrainReminder? _reminder;
    private bool _stopped; // the activation is going away: no timer may be registered any more

    private JobState State => job();

    /// <summary>After a write: a job that runs (or whose run still drains) gets its reminder (soon), any other job loses it.</summary>
    public Task SyncAsync(bool deactivating, bool runLives)
    {
        if (State.WatchedBy is null && !runLives)
        {
            return RemoveAsync();
        }

        if (!deactivating && !_stopped && !State.WatchdogRegistered && _registerTimer is null && (runLives || Lifecycle.JobLifecycle.IsRunning(State.Status)))
        {
            _registerTimer = grain.RegisterGrainTimer(RegisterAsync, new GrainTimerCreationOptions
            {
                DueTime = options.RegisterAfter,
                Period = Timeout.InfiniteTimeSpan,
                KeepAlive = false,
            });
        }

        return Task.CompletedTask;
    }

    /// <summary>The activation is going away: the pending registration is dropped (the next activation registers it).</summary>
    public void Stop()
    {
        _stopped = true;
        _registerTimer?.Dispose();
        _registerTimer = null;
    }

    /// <summary>A tick arrived: the reminder exists, whatever this activation remembered.</summary>
    public void Ticked() => State.WatchdogRegistered = true;

    public async Task RemoveAsync()
    {
        _registerTimer?.Dispose();
        _registerTimer = null;
        if (!State.WatchdogRegistered && _reminder is null)
        {
            return;
        }

        try
        {
            var reminder = _reminder ?? await grain.GetReminder(Name);
            if (reminder is not null)
            {
                await grain.UnregisterReminder(reminder);
            }

            _reminder = null;
            State.WatchdogRegistered = false;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The reminder's next tick finds nothing to watch and tries again.
            LogNotRemoved(logger, ex, jobId);
        }
    }

    private async Task RegisterAsync(CancellationToken cancellationToken)
    {
        // A one-shot timer: disposing it here would cancel this very callback.
        var timer = _registerTimer;
        _registerTimer = null;
        try
        {
            if (_stopped || State.WatchedBy is null || State.WatchdogRegistered)
            {
                return;
            }

            // Stored with the job's next write; a reminder left behind by a crash removes itself on its next tick.
            _reminder = await grain.RegisterOrUpdateReminder(Name, options.ReminderPeriod, options.ReminderPeriod, CancellationToken.None);
            State.WatchdogRegistered = true;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The reminder service may be moving (a silo just died): try again shortly, unless the
            // activation is going away (the service stops with the silo; the next activation registers it).
            timer?.Dispose();
            timer = null;
            if (_stopped)
            {
                return;
            }

            LogNotRegistered(logger, ex, jobId);
            try
            {
                _registerTimer = grain.RegisterGrainTimer(RegisterAsync, new GrainTimerCreationOptions
                {
                    DueTime = RegistrationRetry,
                    Period = Timeout.InfiniteTimeSpan,
                    KeepAlive = false,
                });
            }
            catch (Exception timerError) when (timerError is InvalidOperationException or ObjectDisposedException)
            {
                // The activation is already going away (its silo stops): the next activation registers it.
            }
        }
        finally
        {
            timer?.Dispose();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: its watchdog reminder could not be registered; the recovery sweep still covers it")]
    private static partial void LogNotRegistered(ILogger logger, Exception exception, string jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: its watchdog reminder could not be removed now; its next tick removes it")]
    private static partial void LogNotRemoved(ILogger logger, Exception exception, string jobId);
}
