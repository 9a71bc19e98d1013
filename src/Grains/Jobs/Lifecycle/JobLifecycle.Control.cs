namespace OrleansJobs.Jobs.Lifecycle;

/// <summary>Control actions, and the primitives every decision is made of.</summary>
public sealed partial class JobLifecycle
{
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromMinutes(5);

    /// <summary>Cancel, kill, pause, resume, restart or force-fail, as <see cref="JobActions"/> allows in the current status.</summary>
    public (JobActionKind Kind, JobDecision Decision) Control(JobControl control)
    {
        if (!State.Exists)
        {
            return (JobActionKind.Conflict, JobDecision.None);
        }

        var outcome = JobActions.Decide(State.Status, control.Action);
        if (outcome.Kind != JobActionKind.Transition)
        {
            return (outcome.Kind, JobDecision.None);
        }

        var effects = new List<JobEffect>();
        var reason = control.Reason ?? control.Action.ToString().ToLowerInvariant();
        if (control.Emergency)
        {
            Journal(JournalEntryTypes.EmergencyCleanup, State.Status, outcome.Target, $"{control.Action.ToString().ToLowerInvariant()}: {reason}", control.Actor);
        }

        if (State.LeaseToken is not null && control.Action is JobAction.Cancel or JobAction.Pause or JobAction.Kill or JobAction.ForceFail)
        {
            StopLeasedRun(control, outcome.Target, reason, effects);
        }
        else
        {
            ControlInSilo(control, outcome.Target, reason, effects);
        }

        ReleaseIfIdle(effects);
        return (JobActionKind.Transition, JobDecision.Saved(effects));
    }

    /// <summary>
    /// A worker holds it: nothing here can wait for the worker, so its lease ends now and its next
    /// report is refused. The job keeps the last checkpoint the worker reported.
    /// </summary>
    private void StopLeasedRun(JobControl control, JobStatus target, string reason, List<JobEffect> effects)
    {
        var worker = EndLease(effects);
        Supersede();
        var why = $"{reason} (the lease of worker {worker} ended)";
        if (control.Action == JobAction.ForceFail)
        {
            State.Error = reason;
        }

        if (control.Action == JobAction.Pause)
        {
            Move(JobStatus.Paused, why, control.Actor);
            return;
        }

        if (target == JobStatus.Cancelling)
        {
            // Running -> Cancelling -> Cancelled, at once: there is no run here to drain.
            Move(JobStatus.Cancelling, reason, control.Actor);
            target = JobStatus.Cancelled;
        }

        var outcomeName = control.Action switch
        {
            JobAction.Kill => "killed",
            JobAction.ForceFail => "force-failed",
            _ => "cancelled",
        };
        Finish(target, outcomeName, why, control.Actor);
    }

    private void ControlInSilo(JobControl control, JobStatus target, string reason, List<JobEffect> effects)
    {
        switch (control.Action)
        {
            case JobAction.Cancel or JobAction.Pause when target is JobStatus.Cancelling or JobStatus.Pausing:
                Move(target, reason, control.Actor);
                if (HasLiveRun)
                {
                    // Graceful: the handler finishes its item; RunEnded completes the cancel or pause.
                    effects.Add(new StopRun(Hard: false));
                }
                else
                {
                    // Its run was lost in this activation (recovery is on its way): nothing to drain.
                    CompleteStop("there was no run to drain", control.Actor);
                }

                break;
            case JobAction.Kill or JobAction.ForceFail:
                // Immediate: a new epoch fences the abandoned run out before it is even told.
                Supersede();
                if (control.Action == JobAction.ForceFail)
                {
                    State.Error = reason;
                }

                Finish(target, control.Action == JobAction.Kill ? "killed" : "force-failed", reason, control.Actor);
                if (HasLiveRun)
                {
                    _liveRun = null;
                    effects.Add(new StopRun(Hard: true));
                }

                effects.Add(new CancelWake());
                break;
            case JobAction.Resume or JobAction.Restart:
                Continue(control, reason, effects);
                break;
            default:
                // Queued or paused jobs have no run to wait for (cancel, pause of a queued job). A queued job
                // whose previous run is still finishing its item (resumed while pausing) stops it now.
                if (HasLiveRun)
                {
                    Supersede();
                    _liveRun = null;
                    effects.Add(new StopRun(Hard: true));
                }

                if (JobTransitions.IsTerminal(target))
                {
                    Finish(target, target.ToString().ToLowerInvariant(), reason, control.Actor);
                }
                else
                {
                    Move(target, reason, control.Actor);
                }

                effects.Add(new CancelWake());
                break;
        }
    }

    private void Continue(JobControl control, string reason, List<JobEffect> effects)
    {
        var restart = control.Action == JobAction.Restart;
        // An operator looked at it: the watchdog's restarts start over.
        State.WatchdogRestarts = 0;
        if (restart)
        {
            if (!control.FromCheckpoint)
            {
                State.Checkpoint = JobCheckpoint.Start;
                State.Progress = JobProgress.None;
            }

            // The restart is a new attempt with a full budget of retries.
            State.MaxAttempts = Math.Max(State.MaxAttempts, State.Attempt + 1);
            State.Error = null;
        }

        ResumeInterrupted(reason, control.Actor, restart);
        Move(JobStatus.Queued, reason, control.Actor);
        State.FinishedAt = null;
        State.StartAsNewAttempt = restart;
        if (HasLiveRun)
        {
            // Resumed while pausing: the run is still finishing its item; it starts again when that run has ended.
            State.QueuedReason = "waiting for the previous run to stop";
            return;
        }

        AcquireNext(effects, control.Actor);
    }

    /// <summary>A graceful stop with nothing left to drain: Cancelling ends Cancelled, Pausing ends Paused.</summary>
    private void CompleteStop(string why, string actor)
    {
        if (State.Status == JobStatus.Cancelling)
        {
            Finish(JobStatus.Cancelled, "cancelled", why, actor);
        }
        else if (State.Status == JobStatus.Pausing)
        {
            Move(JobStatus.Paused, why, actor);
        }
    }

    /// <summary>The graceful stop under way, for journal reasons.</summary>
    private string StopName => State.Status == JobStatus.Cancelling ? "cancel" : "pause";

    private void BeginRun(bool newAttempt, string reason, string actor)
    {
        var now = time.GetUtcNow();
        if (newAttempt)
        {
            State.Attempt++;
            State.Attempts.Add(new JobAttempt(State.Attempt, now, null, null, null));
            State.WatchdogRestarts = 0;
        }

        Supersede();
        State.RetryAt = null;
        State.QueuedReason = null;
        State.HandedOverBy = null; // a hand-over that was not taken up by a recovery is over
        State.StartedAt ??= now;
        State.OwnerSilo = silo;
        Move(JobStatus.Running, reason, actor);
    }

    private void Launch(List<JobEffect> effects)
    {
        _liveRun = State.RunEpoch;
        effects.Add(new StartRun(State.RunEpoch));
    }

    /// <summary>The one place a run is superseded: whatever the current run reports from now on is refused.</summary>
    private void Supersede() => State.RunEpoch++;

    private void FailAttempt(string failure, List<JobEffect> effects)
    {
        State.Error = failure;
        if (State.Attempt < State.MaxAttempts)
        {
            var delay = TimeSpan.FromSeconds(Math.Min(MaxRetryDelay.TotalSeconds, Math.Pow(2, State.Attempt - 1)));
            EndAttempt("failed", failure);
            Move(JobStatus.Queued, $"attempt {State.Attempt} failed: {failure}", JournalActors.System);
            State.QueuedReason = $"retry {State.Attempt + 1} of {State.MaxAttempts} after {delay.TotalSeconds:0.#} s backoff";
            State.RetryAt = time.GetUtcNow() + delay;
            effects.Add(new ScheduleWake(State.RetryAt.Value));
        }
        else
        {
            Finish(JobStatus.Failed, "failed", $"attempt {State.Attempt} of {State.MaxAttempts} failed: {failure}", JournalActors.System);
        }
    }

    private void Record(JobCheckpoint checkpoint, JobProgress progress, IReadOnlyList<JobMessage> messages)
    {
        State.Checkpoint = checkpoint;
        State.Progress = progress;
        State.Messages = [.. messages];
        State.LastProgressAt = time.GetUtcNow();
    }

    private void Move(JobStatus to, string? reason, string actor)
    {
        var from = State.Status;
        if (!JobTransitions.IsAllowed(from, to))
        {
            throw new InvalidOperationException($"job {JobId}: {from} -> {to} is not a legal transition");
        }

        State.Status = to;
        Journal(JournalEntryTypes.StateChange, from, to, reason, actor);
    }

    private void Finish(JobStatus to, string outcome, string? reason, string actor)
    {
        Move(to, reason, actor);
        State.FinishedAt = time.GetUtcNow();
        State.RetryAt = null;
        State.QueuedReason = null;
        EndAttempt(outcome, to == JobStatus.Failed ? State.Error : null);
    }

    private void EndAttempt(string outcome, string? error)
    {
        if (State.Attempts.Count > 0 && State.Attempts[^1].EndedAt is null)
        {
            State.Attempts[^1] = State.Attempts[^1] with { EndedAt = time.GetUtcNow(), Outcome = outcome, Error = error };
        }
    }

    /// <summary>The state validator repaired something of this job (<paramref name="kind"/>): journaled; nothing else changes.</summary>
    public JobDecision ValidatorRepaired(string kind, string detail)
    {
        Journal(JournalEntryTypes.ValidatorRepair, null, null, detail, JournalActors.Validator,
            System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, string> { ["kind"] = kind }));
        return JobDecision.Saved();
    }

    private void Journal(string type, JobStatus? from, JobStatus? to, string? reason, string actor, string? data = null) =>
        State.Outbox.Add(new JobJournalEntry(JobId, ++State.JournalSeq, ToMicroseconds(time.GetUtcNow()), type, from, to, reason, actor, silo, data));

    /// <summary>The journal keeps microseconds (PostgreSQL's precision): an entry says the same live, in the state and in the table.</summary>
    private static DateTimeOffset ToMicroseconds(DateTimeOffset at) => new(at.Ticks - (at.Ticks % TimeSpan.TicksPerMicrosecond), at.Offset);

    private static string Seconds(TimeSpan span) => $"{span.TotalSeconds:0.#} s";
}

/// <summary>What the job grain does after asking the lifecycle: store the state (once) and carry out the effects.</summary>
public readonly record struct JobDecision(bool Save, IReadOnlyList<JobEffect> Effects)
{
    public static JobDecision None { get; } = new(false, []);

    public static JobDecision Saved(params IReadOnlyList<JobEffect> effects) => new(true, effects);

    public static JobDecision Unsaved(params IReadOnlyList<JobEffect> effects) => new(false, effects);
}
