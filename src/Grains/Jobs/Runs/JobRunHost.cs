using System.Text.Json;
using Microsoft.Extensions.Logging;
using OrleansJobs.Events;
using OrleansJobs.Jobs.Handlers;
using OrleansJobs.Membership;

namespace OrleansJobs.Jobs.Runs;

/// <summary>
/// Hosts a job's in-silo run for one activation: starts the handler off the grain scheduler,
/// reports the run's end (retried until the grain has heard it), stops it gracefully or at once,
/// and hands it over at an item boundary when the activation goes away. It also watches the
/// run's progress for the watchdog.
/// </summary>
internal sealed partial class JobRunHost(string jobId, JobHandlerRegistry handlers, SiloLiveness liveness, TimeProvider time, ILogger logger)
{
    private const int RunEndReportAttempts = 10;

    private JobRunContext? _run;
    private DateTimeOffset _startedAt;
    private long _progressChanges;
    private DateTimeOffset _progressSeenAt;

    /// <summary>The live run, until it reports its end or is stopped hard.</summary>
    public JobRunContext? Current => _run;

    /// <summary>The job's parsed parameters, when the activation has them already (a submit parsed them); parsed at the first launch otherwise.</summary>
    public JsonElement? Parameters { get; set; }

    /// <summary>Where the runs' progress and messages go as live events; none when the silo publishes none.</summary>
    public LiveJobEvents? Live { get; set; }

    /// <summary>When the live run started.</summary>
    public DateTimeOffset StartedAt => _startedAt;

    /// <summary>When the live run last made progress, as far as the watchdog's looks at it tell.</summary>
    public DateTimeOffset LastProgressAt()
    {
        if (_run is { } run && run.Progress.Changes != _progressChanges)
        {
            _progressChanges = run.Progress.Changes;
            _progressSeenAt = time.GetUtcNow();
        }

        return _progressSeenAt;
    }

    /// <summary>Starts run <paramref name="epoch"/> from the state's checkpoint; it reports back through <paramref name="reports"/>.</summary>
    public void Launch(JobState state, long epoch, IJobRunReports reports)
    {
        if (!handlers.TryGet(state.Type, out var registration))
        {
            throw new InvalidOperationException($"job {jobId}: type '{state.Type}' is not registered on this silo");
        }

        var parameters = Parameters ??= JsonDocument.Parse(state.ParametersJson).RootElement.Clone();
        var policy = new CheckpointPolicy(state.CheckpointEveryItems, state.CheckpointInterval);
        var run = new JobRunContext(
            jobId, state.Attempt, epoch, parameters, state.Checkpoint, state.Progress, state.Messages, policy, reports, time, liveness, state.LibraryId);
        if (Live is { } live)
        {
            run.Progress.Changed = live.ProgressChanged;
            run.MessageAdded = live.MessageAdded;
        }

        var handler = handlers.Create(registration);
        _run = run;
        _startedAt = time.GetUtcNow();
        _progressSeenAt = _startedAt;
        _progressChanges = run.Progress.Changes;
        _ = Task.Run(() => RunAsync(handler, run, reports));
    }

    /// <summary>How long a hard stop waits for the run's open effect sections (a rename, a delete) to be left.</summary>
    public static readonly TimeSpan EffectDrainTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Asks the live run to stop at its next item boundary, or at once (it is then forgotten: it was fenced
    /// out). A hard stop returns once the run has left its open effect sections, so that no effect of the
    /// run follows the answer to a kill.
    /// </summary>
    public async Task StopAsync(bool hard)
    {
        if (_run is not { } run)
        {
            return;
        }

        if (!hard)
        {
            run.RequestStop();
            return;
        }

        run.Abort();
        _run = null;
        try
        {
            await run.EffectsLeft().WaitAsync(EffectDrainTimeout, time);
        }
        catch (TimeoutException)
        {
            LogEffectsStillOpen(logger, jobId, run.Epoch);
        }
    }

    /// <summary>The run reported its end and the grain took it.</summary>
    public void Ended(long epoch)
    {
        if (_run?.Epoch == epoch)
        {
            _run = null;
        }
    }

    /// <summary>
    /// Stops the live run for a hand-over: it stops at its next item boundary, or is hard-stopped after
    /// <paramref name="timeout"/>. Returns the run (to take its checkpoint from) and whether it stopped cleanly.
    /// </summary>
    public async Task<(JobRunContext Run, bool Stopped)> HandOverAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var run = _run ?? throw new InvalidOperationException($"job {jobId}: no run to hand over");
        run.HandOver();
        var stopped = true;
        try
        {
            await run.AtItemBoundary.WaitAsync(timeout, time, cancellationToken);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            stopped = false;
        }

        run.Abort();
        _run = null;
        try
        {
            // The next run must not start while this one is still inside a file effect.
            await run.EffectsLeft().WaitAsync(EffectDrainTimeout, time, cancellationToken);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            LogEffectsStillOpen(logger, jobId, run.Epoch);
        }

        return (run, stopped);
    }

    private async Task RunAsync(IJobHandler handler, JobRunContext run, IJobRunReports reports)
    {
        string? failure = null;
        try
        {
            await handler.RunAsync(run);
        }
        catch (JobRunSupersededException)
        {
            // Fenced out. The end is still reported below; the grain ignores it for a superseded epoch.
        }
        catch (Exception ex)
        {
            failure = $"{ex.GetType().Name}: {ex.Message}";
        }

        if (!run.Aborted.IsCancellationRequested)
        {
            try
            {
                // The end report stores the run's cursor: what it claims must be durable first.
                await run.FlushAsync();
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                failure ??= $"the run's last effects could not be stored: {ex.GetType().Name}: {ex.Message}";
            }
        }

        run.MarkHandlerEnded();
        if (run.HandedOver || liveness.IsDeclaredDead || !liveness.TryEnterRunCall())
        {
            // The deactivating grain stored where the run stopped, this silo was declared dead and the job goes
            // on elsewhere, or the silo is stopping and the grain's hand-over takes where the run ended: a report
            // now would only wait for a grain going away, or try to write.
            run.Dispose();
            return;
        }

        try
        {
            // Until the grain has heard it, it believes the run is alive: retry a lost report (a timeout
            // under load, a silo in trouble). A report heard twice, or a superseded run's, changes nothing.
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await reports.RunEndedAsync(run.Epoch, run.Current(), run.Progress.Snapshot(), run.Messages, failure);
                    break;
                }
                catch (Exception ex) when (attempt < RunEndReportAttempts && ex is not OutOfMemoryException)
                {
                    LogRunEndRetry(logger, ex, jobId, run.Epoch, attempt);
                    await Task.Delay(TimeSpan.FromSeconds(Math.Min(10, attempt)), time);
                }
            }
        }
        catch (Exception ex)
        {
            // The job's state is durable at its last checkpoint; the watchdog finds the run silent and restarts it.
            LogRunEndLost(logger, ex, jobId, run.Epoch);
        }
        finally
        {
            liveness.ExitRunCall();
            // The run owns its context: only now can nobody use its tokens any more.
            run.Dispose();
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId}: run {Epoch} was killed but did not leave its file effect within the limit")]
    private static partial void LogEffectsStillOpen(ILogger logger, string jobId, long epoch);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: reporting the end of run {Epoch} failed (attempt {Attempt}); retrying")]
    private static partial void LogRunEndRetry(ILogger logger, Exception exception, string jobId, long epoch, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: the end of run {Epoch} could not be reported; recovery resumes from the last checkpoint")]
    private static partial void LogRunEndLost(ILogger logger, Exception exception, string jobId, long epoch);
}
