using System.Text.Json;
using OrleansJobs.Jobs.Handlers;
using OrleansJobs.Jobs.Watchdog;

namespace OrleansJobs.Jobs.Lifecycle;

/// <summary>The in-silo run: checkpoints, its end, its loss (stalled, overdue, silo gone) and its hand-over.</summary>
public sealed partial class JobLifecycle
{
    /// <summary>A checkpoint of run <paramref name="epoch"/>; refused (false) when that run was superseded.</summary>
    public bool Checkpoint(long epoch, JobCheckpoint checkpoint, JobProgress progress, IReadOnlyList<JobMessage> messages)
    {
        // Only the fencing token decides. The status may already say Pausing or Queued (a resume
        // waiting for this run to drain); the live run's checkpoints still count.
        if (epoch != State.RunEpoch || _liveRun != epoch)
        {
            return false;
        }

        Record(checkpoint, progress, messages);
        return true;
    }

    /// <summary>
    /// Run <paramref name="epoch"/> ended: its handler returned (<paramref name="failure"/> null) or
    /// threw. A superseded run, or a report heard before (a retried report), changes nothing.
    /// </summary>
    public JobDecision RunEnded(long epoch, JobCheckpoint checkpoint, JobProgress progress, IReadOnlyList<JobMessage> messages, string? failure)
    {
        if (epoch != State.RunEpoch || _liveRun != epoch)
        {
            return JobDecision.None;
        }

        _liveRun = null;
        Record(checkpoint, progress, messages);
        var effects = new List<JobEffect>();
        switch (State.Status)
        {
            case JobStatus.Running when failure is null:
                Finish(JobStatus.Completed, "completed", null, JournalActors.System);
                break;
            case JobStatus.Running:
                FailAttempt(failure, effects);
                break;
            case JobStatus.Cancelling:
                Finish(JobStatus.Cancelled, "cancelled", "the current item finished and the checkpoint was saved", JournalActors.System);
                break;
            case JobStatus.Pausing:
                // Still the same attempt: a resume continues it.
                Move(JobStatus.Paused, "the current item finished and the checkpoint was saved", JournalActors.System);
                Journal(JournalEntryTypes.CheckpointSaved, null, null, "paused at an item boundary", JournalActors.System);
                break;
            case JobStatus.Queued when State.RetryAt is null:
                // Resumed while it was pausing: the run it waited for has stopped; its resources pass to the next run.
                AcquireNext(effects, JournalActors.System);
                break;
        }

        ReleaseIfIdle(effects);
        return JobDecision.Saved(effects);
    }

    /// <summary>
    /// The watchdog found the live run stalled or overdue (<paramref name="kind"/>): it is fenced out and
    /// hard-stopped, then restarted from the checkpoint up to the type's MaxRecoveries, then paused or failed.
    /// </summary>
    public JobDecision RunStuck(string kind, string problem, DateTimeOffset lastProgressAt, DateTimeOffset runStartedAt)
    {
        var options = TypeOptions ?? new JobTypeOptions();
        var data = JsonSerializer.Serialize(new
        {
            lastProgressAt,
            runStartedAt,
            checkpoint = State.Checkpoint.Cursor,
            restarts = State.WatchdogRestarts,
            maxRecoveries = options.MaxRecoveries,
        });
        Journal(kind, State.Status, State.Status, problem, JournalActors.Watchdog, data);
        var effects = new List<JobEffect>();
        Supersede();
        if (HasLiveRun)
        {
            _liveRun = null;
            effects.Add(new StopRun(Hard: true));
        }

        switch (AfterRunLost($"the {StopName} was completed by a hard stop: {problem}", options))
        {
            case RunLoss.Restart:
                State.OwnerSilo = silo;
                Journal(JournalEntryTypes.Recovery, State.Status, State.Status,
                    $"watchdog restart {State.WatchdogRestarts} of {options.MaxRecoveries} from the checkpoint: {problem}", JournalActors.Watchdog, data);
                Launch(effects);
                break;
            case RunLoss.GiveUp:
                GiveUp(kind, problem, $"{options.MaxRecoveries} watchdog restarts", options.WhenRecoveriesExhausted, data);
                break;
        }

        ReleaseIfIdle(effects);
        return JobDecision.Saved(effects);
    }

    /// <summary>
    /// A run was lost to the watchdog (stalled, overdue, its worker's lease lapsed): a cancel or pause
    /// under way completes (<paramref name="stopped"/> says how); otherwise the attempt gets another run
    /// from the checkpoint, counted, up to the type's MaxRecoveries; after that it gives up.
    /// </summary>
    private RunLoss AfterRunLost(string stopped, JobTypeOptions options)
    {
        if (State.Status is JobStatus.Cancelling or JobStatus.Pausing)
        {
            CompleteStop(stopped, JournalActors.Watchdog);
            return RunLoss.Stopped;
        }

        if (State.WatchdogRestarts >= options.MaxRecoveries)
        {
            return RunLoss.GiveUp;
        }

        State.WatchdogRestarts++;
        State.Recoveries++;
        return RunLoss.Restart;
    }

    private enum RunLoss
    {
        Stopped,
        Restart,
        GiveUp,
    }

    /// <summary>The type's recoveries are spent (<paramref name="spent"/> says on what): pause for investigation, or fail.</summary>
    private void GiveUp(string kind, string problem, string spent, RecoveriesExhaustedAction action, string data)
    {
        if (action == RecoveriesExhaustedAction.Fail)
        {
            State.Error = $"{kind}: {problem}";
            Finish(JobStatus.Failed, "failed", $"the watchdog gave up after {spent}: {problem}", JournalActors.Watchdog);
        }
        else
        {
            Move(JobStatus.Paused, $"paused for investigation after {spent}", JournalActors.Watchdog);
            Journal(JournalEntryTypes.PausedForInvestigation, null, null, problem, JournalActors.Watchdog, data);
        }
    }

    /// <summary>
    /// The job was running, but no run of it lives here: its silo died, or its run was lost in this
    /// activation. It resumes from the checkpoint once it holds its resources again; a cancel or pause
    /// that was under way completes (the checkpoint is saved).
    /// </summary>
    public JobDecision Recover()
    {
        var previousOwner = State.OwnerSilo;
        _recovered = true;
        var data = JsonSerializer.Serialize(new
        {
            previousSilo = previousOwner,
            handedOver = State.HandedOverBy is not null,
            checkpoint = State.Checkpoint.Cursor,
            processed = State.Checkpoint.Processed,
        });
        if (State.HandedOverBy is { } handedOverBy)
        {
            // Not a failure: the silo stopped it at a checkpoint on its way down.
            Journal(JournalEntryTypes.Recovery, State.Status, State.Status,
                $"continued from the checkpoint {handedOverBy} saved when it handed the run over", JournalActors.System, data);
            State.HandedOverBy = null;
        }
        else
        {
            State.Recoveries++;
            Journal(JournalEntryTypes.Recovery, State.Status, State.Status,
                $"resumed from the checkpoint after the run on {previousOwner ?? "an unknown silo"} was lost", JournalActors.System, data);
        }

        var effects = new List<JobEffect>();
        if (State.Status is JobStatus.Cancelling or JobStatus.Pausing)
        {
            CompleteStop($"{StopName} completed after recovery", JournalActors.System);
        }
        else if (TypeOptions is null)
        {
            FailUnregistered(effects);
        }
        else
        {
            // Its resources may have been freed when its holder could not answer: ask again (a holder is granted again).
            State.Held.Clear();
            _acquiringToResume = true;
            AcquireNext(effects, JournalActors.System);
        }

        ReleaseIfIdle(effects);
        return JobDecision.Saved(effects);
    }

    /// <summary>
    /// The activation goes away while its run lives: the run has stopped at an item boundary (or was
    /// hard-stopped after the hand-over timeout) and <paramref name="checkpoint"/> is where it stands.
    /// The job stays Running; the next activation continues it from there.
    /// </summary>
    public JobDecision HandOver(string cause, bool stopped, TimeSpan timeout, JobCheckpoint checkpoint, JobProgress progress, IReadOnlyList<JobMessage> messages)
    {
        Supersede();
        _liveRun = null;
        Record(checkpoint, progress, messages);
        State.HandedOverBy = silo;
        var why = stopped
            ? $"{cause}: the run stopped at an item boundary and saved its checkpoint; it continues in a new activation"
            : $"{cause}: the run did not reach an item boundary within {timeout.TotalSeconds:0.#} s and was " +
              "hard-stopped; it continues from its last finished item in a new activation";
        Journal(JournalEntryTypes.Handoff, State.Status, State.Status, why, JournalActors.System,
            JsonSerializer.Serialize(new { silo, checkpoint = State.Checkpoint.Cursor }));
        return JobDecision.Saved();
    }

    /// <summary>
    /// A watchdog tick of a job that runs: the live run's health (<paramref name="lastProgressAt"/>, from
    /// the run host) or the worker's lease decides; a job that runs with neither lost its run here.
    /// </summary>
    public JobDecision WatchdogTick(DateTimeOffset lastProgressAt, DateTimeOffset runStartedAt)
    {
        if (State.Status == JobStatus.Queued && State.RetryAt is { } retryAt)
        {
            return JobDecision.Unsaved(new ScheduleWake(retryAt));
        }

        if (HasLiveRun && State.Status == JobStatus.Queued)
        {
            return DrainingRunCheck(lastProgressAt, runStartedAt);
        }

        if (!IsRunning(State.Status))
        {
            return JobDecision.None;
        }

        if (State.LeaseToken is not null)
        {
            return LeaseCheck();
        }

        if (!HasLiveRun)
        {
            return Recover();
        }

        var verdict = RunHealth.Check(time.GetUtcNow(), lastProgressAt, runStartedAt, StallTimeout, TypeOptions?.MaxRunTime);
        return verdict is { } stuck ? RunStuck(stuck.Kind, stuck.Problem, lastProgressAt, runStartedAt) : JobDecision.None;
    }

    /// <summary>
    /// Resumed while pausing, and the previous run has not stopped: if it is stuck, it is fenced out and
    /// hard-stopped, and the job starts again with the slot it holds.
    /// </summary>
    private JobDecision DrainingRunCheck(DateTimeOffset lastProgressAt, DateTimeOffset runStartedAt)
    {
        if (RunHealth.Check(time.GetUtcNow(), lastProgressAt, runStartedAt, StallTimeout, TypeOptions?.MaxRunTime) is not { } stuck)
        {
            return JobDecision.None;
        }

        Journal(stuck.Kind, State.Status, State.Status, $"the previous run did not stop: {stuck.Problem}", JournalActors.Watchdog);
        var effects = new List<JobEffect>();
        Supersede();
        _liveRun = null;
        effects.Add(new StopRun(Hard: true));
        if (State.RetryAt is null)
        {
            AcquireNext(effects, JournalActors.Watchdog);
        }

        ReleaseIfIdle(effects);
        return JobDecision.Saved(effects);
    }

    /// <summary>Default stall timeout, for types that set none (<c>Watchdog:StallTimeout</c>).</summary>
    public TimeSpan DefaultStallTimeout { get; init; } = TimeSpan.FromMinutes(5);

    private TimeSpan StallTimeout => TypeOptions?.StallTimeout ?? DefaultStallTimeout;
}
