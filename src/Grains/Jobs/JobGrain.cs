using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansJobs.Hosting;
using OrleansJobs.Jobs.Handlers;
using OrleansJobs.Jobs.Projections;
using OrleansJobs.Jobs.Watchdog;

namespace OrleansJobs.Jobs;

/// <summary>
/// A job: its state machine, checkpoint and journal, and its run. The handler runs on the
/// thread pool; it reaches this grain only through <see cref="IJobRun"/> calls, so every state
/// change, whoever causes it, is one serialized request and one durable write. Journal entries
/// and the index row go out through the silo's <see cref="ProjectionBatcher"/>.
/// While the job runs or waits it is watched: its state names the silo answerable for it (for
/// the recovery sweep), and from <see cref="WatchdogOptions.RegisterAfter"/> on a reminder ticks
/// to re-activate it after a silo loss and to catch stalled or overdue runs.
/// </summary>
public sealed partial class JobGrain(
    [PersistentState("job", OrleansJobsDatabase.JobStore)] IPersistentState<JobState> state,
    JobHandlerRegistry handlers,
    ProjectionBatcher projections,
    ILocalSiloDetails silo,
    IOptions<WatchdogOptions> watchdogOptions,
    TimeProvider time,
    ILogger<JobGrain> logger) : Grain, IJobGrain, IJobRun, IRemindable
{
    private const string System = "system";
    private const string WatchdogActor = "watchdog";
    private const string WatchdogReminder = "watchdog";
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan WaitingRecheck = TimeSpan.FromSeconds(15);
    private const int RunEndReportAttempts = 10;
    private const int SelfWakeAttempts = 30;
    private static readonly TimeSpan FlushMaxDelay = TimeSpan.FromSeconds(5);

    // The live run, until it reports its end (RunEnded) or is fenced out (kill). Whether a run
    // is still draining is judged by this, never by its task: the task outlives the report.
    private JobRunContext? _run;
    private bool? _startWhenDrained; // set: start when the draining run has ended (value: as a new attempt)
    private long _handedOverSeq; // journal entries up to here were given to the batcher by this activation
    private IGrainTimer? _retryTimer;
    private IGrainTimer? _watchdogTimer; // registers the reminder once the job has been watched for RegisterAfter
    private IGrainTimer? _waitingTimer; // a job waiting for a slot re-asks now and then: the admission keeps its queue in memory
    private IGrainReminder? _watchdog;
    private bool _recovered; // this activation resumed the job; the next WakeAsync reports it
    private bool _deactivating;
    private bool _activated; // OnActivateAsync has finished
    private IGrainTimer? _flushTimer; // stores the state again after a failed write
    private int _flushFailures;
    private long _progressChanges; // progress of the live run as last seen by the watchdog, and when it last moved
    private DateTimeOffset _progressSeenAt;
    private DateTimeOffset _runStartedAt;

    private JobState State => state.State;

    private string JobId => this.GetPrimaryKeyString();

    private string SiloName => silo.SiloAddress.ToParsableString();

    private WatchdogOptions Watch => watchdogOptions.Value;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (!State.Exists)
        {
            _activated = true;
            return;
        }

        if (State.Outbox.Count > 0)
        {
            Project();
        }

        // Persisted as running, but no run lives here: the activation that ran it is gone.
        if (State.Status is JobStatus.Running or JobStatus.Cancelling && State.LeaseToken is not null)
        {
            await ResumeLeaseAsync();
        }
        else if (State.Status is JobStatus.Running or JobStatus.Cancelling)
        {
            await RecoverAsync(cancellationToken);
        }
        else if (State.Status == JobStatus.Queued)
        {
            await ResumeWaitingAsync();
        }

        _activated = true;
    }

    /// <summary>
    /// The activation goes away while the job still runs or waits. A running job stops at its next
    /// item boundary, saves that checkpoint and stays Running. On silo shutdown the recovery sweep of
    /// the surviving silos continues it at once. Any other deactivation happens on a live silo, which
    /// no sweep looks at: Orleans deactivates every activation whose grain directory entry was held by
    /// a silo that died or left, and a stale write deactivates it too. Such a job wakes itself again
    /// once this activation is gone, or a waiting job would wait for a slot nobody remembers.
    /// </summary>
    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _deactivating = true;
        if (!State.Exists)
        {
            return;
        }

        var shuttingDown = reason.ReasonCode == DeactivationReasonCode.ShuttingDown;
        if (_run is { } run)
        {
            await HandOverAsync(run, shuttingDown ? "silo shutting down" : $"activation deactivated ({reason.ReasonCode})", cancellationToken);
        }

        if (!shuttingDown && State.WatchedBy is not null)
        {
            WakeAfterDeactivation(reason);
        }
    }

    private async Task HandOverAsync(JobRunContext run, string cause, CancellationToken cancellationToken)
    {
        run.HandOver();
        // The run stops at its next item boundary, or is already at one: waiting for this grain to
        // store a checkpoint, which it cannot do while deactivating (the checkpoint is taken below).
        var stopped = false;
        var deadline = time.GetUtcNow() + Watch.HandoffTimeout;
        while (!cancellationToken.IsCancellationRequested && time.GetUtcNow() < deadline)
        {
            if (run.HandlerEnded.IsCompleted || run.Checkpointing)
            {
                stopped = true;
                break;
            }

            await Task.WhenAny(run.HandlerEnded, Task.Delay(TimeSpan.FromMilliseconds(10), CancellationToken.None));
        }

        run.Abort();

        // Whatever the run reports from now on is refused: its successor starts from this checkpoint.
        State.RunEpoch++;
        DisposeRun();
        Record(run.Current(), run.Progress.Snapshot(), run.Messages);
        State.HandedOverBy = SiloName;
        var why = stopped
            ? $"{cause}: the run stopped at an item boundary and saved its checkpoint; it continues in a new activation"
            : $"{cause}: the run did not reach an item boundary within {Watch.HandoffTimeout.TotalSeconds:0.#} s and was " +
              "hard-stopped; it continues from its last finished item in a new activation";
        Journal("handoff", State.Status, State.Status, why, System, JsonSerializer.Serialize(new { silo = SiloName, checkpoint = State.Checkpoint.Cursor }));
        try
        {
            await SaveAsync();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The previous checkpoint stands; recovery resumes from there.
            LogHandoffNotSaved(logger, ex, JobId);
        }
    }

    /// <summary>
    /// Calls the job from outside this activation once it has gone: the call activates it again (a
    /// message that reaches a deactivating activation is forwarded to the next one), and the new
    /// activation resumes what this one left. Retried for about five minutes while the cluster settles
    /// after a silo loss; a job still not reached then is named in a warning.
    /// </summary>
    private void WakeAfterDeactivation(DeactivationReason reason)
    {
        var job = GrainFactory.GetGrain<IJobRun>(JobId);
        var jobId = JobId;
        var why = $"activation on {SiloName} deactivated ({reason.ReasonCode})";
        LogWakingItself(logger, jobId, reason.ReasonCode, reason.Description);
        _ = Task.Run(async () =>
        {
            for (var attempt = 1; attempt <= SelfWakeAttempts; attempt++)
            {
                try
                {
                    await job.WakeAsync(why);
                    return;
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    if (attempt == SelfWakeAttempts)
                    {
                        LogSelfWakeFailed(logger, ex, jobId);
                        return;
                    }

                    await Task.Delay(TimeSpan.FromSeconds(Math.Min(attempt, 10)), CancellationToken.None);
                }
            }
        });
    }

    /// <summary>A waiting job in a new activation: its timer or its place in the type's queue may have died with its silo.</summary>
    private async Task ResumeWaitingAsync()
    {
        var moved = State.ActiveSilo != SiloName;
        if (State.RetryAt is { } retryAt)
        {
            ScheduleRetry(retryAt);
        }
        else
        {
            // Asking again is harmless: the admission keeps one place per job.
            var ticket = await Admission.RequestAsync(JobId, State.Priority, time.GetUtcNow());
            if (ticket.Granted)
            {
                await StartAsync(State.StartAsNewAttempt, System);
                _recovered = moved;
                return;
            }

            State.QueuedReason = WaitingReason(ticket);
        }

        if (moved)
        {
            // The state still names the old silo as answerable for this job: point it here.
            _recovered = true;
            await SaveAsync();
        }
        else
        {
            EnsureWatchdog();
            EnsureWaitingCheck();
        }
    }

    async Task<JobSubmitResult> IJobGrain.SubmitAsync(JobSubmission submission)
    {
        JsonElement? parsed;
        string? parseError = null;
        try
        {
            parsed = JsonDocument.Parse(submission.ParametersJson).RootElement.Clone();
        }
        catch (JsonException ex)
        {
            parsed = null;
            parseError = ex.Message;
        }

        var fingerprint = Fingerprint(submission, parsed);
        if (State.Exists)
        {
            return string.Equals(State.RequestFingerprint, fingerprint, StringComparison.Ordinal)
                ? new JobSubmitResult(JobSubmitOutcome.Existing, Snapshot(), [])
                : new JobSubmitResult(JobSubmitOutcome.KeyConflict, Snapshot(), []);
        }

        if (!handlers.TryGet(submission.Type, out var registration))
        {
            var known = string.Join(", ", handlers.Names.Order(StringComparer.Ordinal));
            return Invalid(new JobParameterError("type", $"unknown job type '{submission.Type}' (known: {known})"));
        }

        if (parsed is not { } parameters)
        {
            return Invalid(new JobParameterError("parameters", $"is not valid JSON: {parseError}"));
        }

        var errors = handlers.Create(registration).Validate(parameters).ToList();
        errors.AddRange(ValidateOverrides(submission));
        if (errors.Count > 0)
        {
            return new JobSubmitResult(JobSubmitOutcome.Invalid, null, errors);
        }

        var granted = false;
        try
        {
            var now = time.GetUtcNow();
            State.Exists = true;
            State.Type = submission.Type;
            State.ParametersJson = parameters.GetRawText();
            State.RequestFingerprint = fingerprint;
            State.Priority = submission.Priority;
            State.MaxAttempts = submission.MaxAttempts ?? registration.Options.MaxAttempts;
            State.CheckpointEveryItems = submission.CheckpointEveryItems ?? registration.Options.CheckpointEveryItems;
            State.CheckpointInterval = submission.CheckpointInterval ?? registration.Options.CheckpointInterval;
            State.IdempotencyKey = submission.IdempotencyKey;
            State.Status = JobStatus.Queued;
            State.CreatedAt = now;
            Journal("submitted", null, JobStatus.Queued, null, submission.Actor);

            if (submission.RunAfter is { } runAfter && runAfter > now)
            {
                // Scheduled: it asks for a slot when its time comes.
                State.StartAsNewAttempt = true;
                State.RetryAt = runAfter;
                State.QueuedReason = $"scheduled to run after {runAfter:O}";
                await SaveAsync();
                ScheduleRetry(runAfter);
                return new JobSubmitResult(JobSubmitOutcome.Created, Snapshot(), []);
            }

            var ticket = await Admission.RequestAsync(JobId, State.Priority, now);
            granted = ticket.Granted;
            if (ticket.Granted)
            {
                // Accepted and started in one durable write: the hot path is one commit.
                BeginRun(newAttempt: true, "started", submission.Actor);
                await SaveAsync();
                Launch(registration, parameters);
            }
            else
            {
                State.StartAsNewAttempt = true;
                State.QueuedReason = WaitingReason(ticket);
                await SaveAsync();
            }

        }
        catch (Exception ex) when (ex is not (OutOfMemoryException or Orleans.Storage.InconsistentStateException))
        {
            // Not stored (the database is away): nothing was created. Forget it here too, so a retry
            // of the same request creates the job instead of finding one that exists only in memory.
            CancelFlush();
            state.State = new JobState();
            if (granted)
            {
                try
                {
                    await Admission.ReleaseAsync(JobId);
                }
                catch (Exception releaseError) when (releaseError is not OutOfMemoryException)
                {
                    // The admission's holder check frees a slot whose job never ran.
                }
            }

            throw;
        }

        return new JobSubmitResult(JobSubmitOutcome.Created, Snapshot(), []);
    }

    Task<JobSnapshot?> IJobGrain.GetAsync() => Task.FromResult(State.Exists ? Snapshot() : null);

    async Task<JobControlResult> IJobGrain.ControlAsync(JobControl control)
    {
        if (!State.Exists)
        {
            return new JobControlResult(JobActionKind.Conflict, null);
        }

        var outcome = JobActions.Decide(State.Status, control.Action);
        if (outcome.Kind != JobActionKind.Transition)
        {
            return new JobControlResult(outcome.Kind, Snapshot());
        }

        var from = State.Status;
        var reason = control.Reason ?? control.Action.ToString().ToLowerInvariant();
        if (State.LeaseToken is not null && control.Action is JobAction.Cancel or JobAction.Pause or JobAction.Kill or JobAction.ForceFail)
        {
            // A worker holds it: nothing here can wait for the worker, so its lease ends now and its
            // next report is refused. The job keeps the last checkpoint the worker reported.
            var worker = EndLease();
            State.RunEpoch++;
            State.Error = control.Action == JobAction.ForceFail ? reason : State.Error;
            if (control.Action == JobAction.Pause)
            {
                Move(JobStatus.Paused, $"{reason} (the lease of worker {worker} ended)", control.Actor);
            }
            else
            {
                var outcomeName = control.Action switch
                {
                    JobAction.Kill => "killed",
                    JobAction.ForceFail => "force-failed",
                    _ => "cancelled",
                };
                if (outcome.Target == JobStatus.Cancelling)
                {
                    // Running -> Cancelling -> Cancelled, at once: there is no run here to drain.
                    Move(JobStatus.Cancelling, reason, control.Actor);
                }

                Finish(outcome.Target == JobStatus.Cancelling ? JobStatus.Cancelled : outcome.Target, outcomeName,
                    $"{reason} (the lease of worker {worker} ended)", control.Actor);
            }

            await SaveAsync();
            await SyncSlotAsync();
            return new JobControlResult(JobActionKind.Transition, Snapshot());
        }

        switch (control.Action)
        {
            case JobAction.Cancel when from == JobStatus.Running:
                // Graceful: the handler finishes its item; RunEnded makes it Cancelled.
                Move(JobStatus.Cancelling, reason, control.Actor);
                _run?.RequestStop();
                break;
            case JobAction.Pause when from == JobStatus.Running:
                Move(JobStatus.Paused, reason, control.Actor);
                _run?.RequestStop();
                break;
            case JobAction.Kill:
            case JobAction.ForceFail:
                // Immediate: a new epoch fences the abandoned run out before it is even told.
                State.RunEpoch++;
                State.Error = control.Action == JobAction.ForceFail ? reason : State.Error;
                Finish(outcome.Target, control.Action == JobAction.Kill ? "killed" : "force-failed", reason, control.Actor);
                AbandonRun();
                break;
            case JobAction.Resume:
            case JobAction.Restart:
                // An operator looked at it: the watchdog's restarts start over.
                State.WatchdogRestarts = 0;
                if (control.Action == JobAction.Restart)
                {
                    PrepareRestart(control.FromCheckpoint);
                }

                Move(JobStatus.Queued, reason, control.Actor);
                State.FinishedAt = null;
                State.Error = control.Action == JobAction.Restart ? null : State.Error;
                if (_run is not null)
                {
                    // The previous run is still finishing its item: start when it has ended.
                    State.QueuedReason = "waiting for the previous run to stop";
                    _startWhenDrained = control.Action == JobAction.Restart;
                }
                else
                {
                    await SaveAsync();
                    await TryStartAsync(newAttempt: control.Action == JobAction.Restart, control.Actor);
                    return new JobControlResult(JobActionKind.Transition, Snapshot());
                }

                break;
            default:
                // Queued or paused jobs have no run to wait for (cancel, pause of a queued job).
                if (JobTransitions.IsTerminal(outcome.Target))
                {
                    Finish(outcome.Target, outcome.Target.ToString().ToLowerInvariant(), reason, control.Actor);
                }
                else
                {
                    Move(outcome.Target, reason, control.Actor);
                }

                CancelRetry();
                break;
        }

        await SaveAsync();
        await SyncSlotAsync();
        return new JobControlResult(JobActionKind.Transition, Snapshot());
    }

    async Task IJobRun.AdmittedAsync()
    {
        if (State.Exists && State.Status == JobStatus.Queued && State.RetryAt is null && _run is null)
        {
            await StartAsync(State.StartAsNewAttempt, System);
        }
        else if (!State.Exists || State.Status is not (JobStatus.Running or JobStatus.Cancelling))
        {
            await Admission.ReleaseAsync(JobId);
        }
    }

    Task<bool> IJobRun.WakeAsync(string reason)
    {
        var recovered = _recovered;
        _recovered = false;
        if (recovered)
        {
            LogWoken(logger, JobId, reason);
        }

        return Task.FromResult(recovered);
    }

    async Task IRemindable.ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != WatchdogReminder)
        {
            return;
        }

        if (State.WatchedBy is null)
        {
            // Paused, finished or never submitted: nothing to watch. The reminder may be one a crashed
            // activation registered without recording it: it ticked, so it exists.
            State.WatchdogRegistered = true;
            await RemoveWatchdogAsync();
            return;
        }

        State.WatchdogRegistered = true;
        switch (State.Status)
        {
            case JobStatus.Queued when State.RetryAt is { } retryAt && _retryTimer is null:
                ScheduleRetry(retryAt);
                break;
            case JobStatus.Queued when State.RetryAt is null && _run is null:
                // Its place in the type's queue may have been lost with the admission's silo.
                var ticket = await Admission.RequestAsync(JobId, State.Priority, time.GetUtcNow());
                if (ticket.Granted && State.Status == JobStatus.Queued && _run is null)
                {
                    await StartAsync(State.StartAsNewAttempt, System);
                }

                break;
            case JobStatus.Running or JobStatus.Cancelling when _run is not null:
                await CheckRunAsync();
                break;
            case JobStatus.Running or JobStatus.Cancelling when State.LeaseToken is not null:
                await CheckLeaseAsync();
                break;
        }
    }

    /// <summary>Stalled (no progress for the stall timeout) or overdue (past the type's MaxRunTime): apply the type's policy.</summary>
    private async Task CheckRunAsync()
    {
        var run = _run!;
        var now = time.GetUtcNow();
        var changes = run.Progress.Changes;
        if (changes != _progressChanges)
        {
            _progressChanges = changes;
            _progressSeenAt = now;
        }

        if (!handlers.TryGet(State.Type, out var registration))
        {
            return;
        }

        var stallTimeout = registration.Options.StallTimeout ?? Watch.StallTimeout;
        var idle = now - _progressSeenAt;
        if (idle >= stallTimeout)
        {
            await HandleStuckRunAsync(
                "stall_detected", $"no progress for {Seconds(idle)} (stall timeout {Seconds(stallTimeout)})", registration);
        }
        else if (registration.Options.MaxRunTime is { } maxRunTime && now - _runStartedAt >= maxRunTime)
        {
            await HandleStuckRunAsync(
                "overdue", $"running for {Seconds(now - _runStartedAt)}, past the type's max run time of {Seconds(maxRunTime)}", registration);
        }
    }

    private async Task HandleStuckRunAsync(string kind, string problem, JobTypeRegistration registration)
    {
        var maxRecoveries = registration.Options.MaxRecoveries;
        var data = JsonSerializer.Serialize(new
        {
            lastProgressAt = _progressSeenAt,
            runStartedAt = _runStartedAt,
            checkpoint = State.Checkpoint.Cursor,
            restarts = State.WatchdogRestarts,
            maxRecoveries,
        });
        Journal(kind, State.Status, State.Status, problem, WatchdogActor, data);

        // The stuck run is fenced out and hard-stopped whatever happens next.
        State.RunEpoch++;
        _run?.Abort();
        DisposeRun();

        if (State.Status == JobStatus.Cancelling)
        {
            Finish(JobStatus.Cancelled, "cancelled", $"the cancel was completed by a hard stop: {problem}", WatchdogActor);
        }
        else if (State.WatchdogRestarts < maxRecoveries)
        {
            State.WatchdogRestarts++;
            State.Recoveries++;
            State.OwnerSilo = SiloName;
            Journal("recovery", State.Status, State.Status,
                $"watchdog restart {State.WatchdogRestarts} of {maxRecoveries} from the checkpoint: {problem}", WatchdogActor, data);
            await SaveAsync();
            Launch(registration);
            return;
        }
        else
        {
            GiveUp(kind, problem, $"{maxRecoveries} watchdog restarts", registration.Options.WhenRecoveriesExhausted, data);
        }

        await SaveAsync();
        await SyncSlotAsync();
    }

    /// <summary>The type's recoveries are spent (<paramref name="spent"/> says on what): pause for investigation, or fail.</summary>
    private void GiveUp(string kind, string problem, string spent, RecoveriesExhaustedAction action, string data)
    {
        if (action == RecoveriesExhaustedAction.Fail)
        {
            State.Error = $"{kind}: {problem}";
            Finish(JobStatus.Failed, "failed", $"the watchdog gave up after {spent}: {problem}", WatchdogActor);
        }
        else
        {
            Move(JobStatus.Paused, $"paused for investigation after {spent}", WatchdogActor);
            Journal("paused_for_investigation", null, null, problem, WatchdogActor, data);
        }
    }

    private static string Seconds(TimeSpan span) => $"{span.TotalSeconds:0.#} s";

    async Task<bool> IJobRun.CheckpointAsync(long epoch, JobCheckpoint checkpoint, JobProgress progress, IReadOnlyList<JobMessage> messages)
    {
        // Only the fencing token decides. The status may already say Paused or Queued (a resume
        // waiting for this run to drain); the live run's checkpoints still count.
        if (epoch != State.RunEpoch || _run is null || _run.Epoch != epoch)
        {
            return false;
        }

        Record(checkpoint, progress, messages);
        await SaveAsync();
        return true;
    }

    async Task IJobRun.RunEndedAsync(long epoch, JobCheckpoint checkpoint, JobProgress progress, IReadOnlyList<JobMessage> messages, string? failure)
    {
        if (epoch != State.RunEpoch)
        {
            return; // a killed or replaced run: nothing it says counts
        }

        DisposeRun();
        Record(checkpoint, progress, messages);
        switch (State.Status)
        {
            case JobStatus.Running when failure is null:
                Finish(JobStatus.Completed, "completed", null, System);
                break;
            case JobStatus.Running:
                FailAttempt(failure);
                break;
            case JobStatus.Cancelling:
                Finish(JobStatus.Cancelled, "cancelled", "the current item finished and the checkpoint was saved", System);
                break;
            case JobStatus.Paused:
                // Still the same attempt: a resume continues it.
                Journal("checkpoint_saved", null, null, "paused at an item boundary", System);
                break;
        }

        await SaveAsync();
        if (_startWhenDrained is { } newAttempt && State.Status == JobStatus.Queued)
        {
            // This run's slot passes to the next run of the same job.
            _startWhenDrained = null;
            await TryStartAsync(newAttempt, System);
        }
        else
        {
            await SyncSlotAsync();
        }
    }

    private void FailAttempt(string failure)
    {
        State.Error = failure;
        if (State.Attempt < State.MaxAttempts)
        {
            var delay = TimeSpan.FromSeconds(Math.Min(MaxRetryDelay.TotalSeconds, Math.Pow(2, State.Attempt - 1)));
            EndAttempt("failed", failure);
            Move(JobStatus.Queued, $"attempt {State.Attempt} failed: {failure}", System);
            State.QueuedReason = $"retry {State.Attempt + 1} of {State.MaxAttempts} after {delay.TotalSeconds:0.#} s backoff";
            State.RetryAt = time.GetUtcNow() + delay;
            ScheduleRetry(State.RetryAt.Value);
        }
        else
        {
            Finish(JobStatus.Failed, "failed", $"attempt {State.Attempt} of {State.MaxAttempts} failed: {failure}", System);
        }
    }

    private async Task StartAsync(bool newAttempt, string actor)
    {
        if (!handlers.TryGet(State.Type, out var registration))
        {
            State.Error = $"job type '{State.Type}' is not registered on silo {SiloName}";
            Finish(JobStatus.Failed, "failed", State.Error, System);
            await SaveAsync();
            await SyncSlotAsync();
            return;
        }

        BeginRun(newAttempt, "started", actor);
        await SaveAsync();
        Launch(registration);
    }

    private async Task RecoverAsync(CancellationToken cancellationToken)
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
            Journal("recovery", State.Status, State.Status, $"continued from the checkpoint {handedOverBy} saved when it handed the run over", System, data);
            State.HandedOverBy = null;
        }
        else
        {
            State.Recoveries++;
            Journal("recovery", State.Status, State.Status, $"resumed from the checkpoint after the run on {previousOwner ?? "an unknown silo"} was lost", System, data);
        }

        if (State.Status == JobStatus.Cancelling)
        {
            // It was being cancelled when its silo died: the checkpoint is saved, so finish the cancel.
            Finish(JobStatus.Cancelled, "cancelled", "cancel completed after recovery", System);
            await SaveAsync();
            return;
        }

        cancellationToken.ThrowIfCancellationRequested();
        if (!handlers.TryGet(State.Type, out var registration))
        {
            State.Error = $"job type '{State.Type}' is not registered on silo {SiloName}";
            Finish(JobStatus.Failed, "failed", State.Error, System);
            await SaveAsync();
            return;
        }

        var ticket = await Admission.RequestAsync(JobId, State.Priority, time.GetUtcNow());
        if (!ticket.Granted)
        {
            // The type's slots were given away meanwhile: wait for one, then continue this attempt.
            Move(JobStatus.Queued, "recovered; waiting for a slot", System);
            State.StartAsNewAttempt = false;
            State.QueuedReason = WaitingReason(ticket);
            await SaveAsync();
            return;
        }

        State.RunEpoch++;
        State.OwnerSilo = SiloName;
        await SaveAsync();
        Launch(registration);
    }

    /// <summary>Starts the job if its type has a free slot; otherwise it waits in the type's queue.</summary>
    private async Task TryStartAsync(bool newAttempt, string actor)
    {
        var ticket = await Admission.RequestAsync(JobId, State.Priority, time.GetUtcNow());
        if (ticket.Granted)
        {
            await StartAsync(newAttempt, actor);
            return;
        }

        State.StartAsNewAttempt = newAttempt;
        State.QueuedReason = WaitingReason(ticket);
        await SaveAsync();
    }

    /// <summary>Gives the type's slot back (or leaves its queue) unless the job still runs or waits for a slot.</summary>
    private Task SyncSlotAsync()
    {
        var holdsOrWaits = State.Status is JobStatus.Running or JobStatus.Cancelling
            || _run is not null // a run still draining keeps its slot until it has ended
            || (State.Status == JobStatus.Queued && State.RetryAt is null);
        return holdsOrWaits ? Task.CompletedTask : Admission.ReleaseAsync(JobId);
    }

    private IJobAdmissionGrain Admission => GrainFactory.GetGrain<IJobAdmissionGrain>(State.Type);

    private string WaitingReason(AdmissionTicket ticket) => IsExternal
        ? $"waiting for a worker: {ticket.Running} of {ticket.Limit} '{State.Type}' jobs leased, position {ticket.Position} in the queue"
        : $"waiting for a slot: {ticket.Running} of {ticket.Limit} '{State.Type}' jobs running, position {ticket.Position} in the queue";

    private void BeginRun(bool newAttempt, string reason, string actor)
    {
        var now = time.GetUtcNow();
        if (newAttempt)
        {
            State.Attempt++;
            State.Attempts.Add(new JobAttempt(State.Attempt, now, null, null, null));
            State.WatchdogRestarts = 0;
        }

        State.RunEpoch++;
        State.RetryAt = null;
        State.QueuedReason = null;
        State.StartedAt ??= now;
        State.OwnerSilo = SiloName;
        Move(JobStatus.Running, reason, actor);
    }

    /// <summary>Starts the handler off the grain scheduler; it reports back through <see cref="IJobRun"/>.</summary>
    private void Launch(JobTypeRegistration registration, JsonElement? parsedParameters = null)
    {
        var parameters = parsedParameters ?? JsonDocument.Parse(State.ParametersJson).RootElement.Clone();
        var policy = new CheckpointPolicy(State.CheckpointEveryItems, State.CheckpointInterval);
        var grain = this.AsReference<IJobRun>();
        var run = new JobRunContext(JobId, State.Attempt, State.RunEpoch, parameters, State.Checkpoint, State.Progress, State.Messages, policy, grain, time);
        var handler = handlers.Create(registration);
        _run = run;
        _runStartedAt = time.GetUtcNow();
        _progressSeenAt = _runStartedAt;
        _progressChanges = run.Progress.Changes;
        // Checkpoints and the end of the run are calls, which count as activity, but an item may take longer
        // than the idle collection age: keep the activation while its run lives.
        DelayDeactivation(TimeSpan.FromDays(365));
        _ = Task.Run(async () =>
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

            run.MarkHandlerEnded();
            try
            {
                // Until the grain has heard it, it believes the run is alive: retry a lost report
                // (a timeout under load, a silo in trouble). A superseded run's report is simply ignored.
                for (var attempt = 1; ; attempt++)
                {
                    try
                    {
                        await grain.RunEndedAsync(run.Epoch, run.Current(), run.Progress.Snapshot(), run.Messages, failure);
                        break;
                    }
                    catch (Exception ex) when (attempt < RunEndReportAttempts && ex is not OutOfMemoryException)
                    {
                        LogRunEndRetry(logger, ex, JobId, run.Epoch, attempt);
                        await Task.Delay(TimeSpan.FromSeconds(Math.Min(10, attempt)));
                    }
                }
            }
            catch (Exception ex)
            {
                // The job's state is durable at its last checkpoint; the watchdog finds the run silent and restarts it.
                LogRunEndLost(logger, ex, JobId, run.Epoch);
            }
            finally
            {
                // The run owns its context: only now can nobody use its tokens any more.
                run.Dispose();
            }
        });
    }

    private void AbandonRun()
    {
        _run?.Abort();
        DisposeRun();
        CancelRetry();
    }

    private void DisposeRun()
    {
        _run = null;
        DelayDeactivation(TimeSpan.Zero);
    }

    private void PrepareRestart(bool fromCheckpoint)
    {
        if (!fromCheckpoint)
        {
            State.Checkpoint = JobCheckpoint.Start;
            State.Progress = JobProgress.None;
        }

        // The restart is a new attempt with a full budget of retries.
        State.MaxAttempts = Math.Max(State.MaxAttempts, State.Attempt + 1);
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
        Journal("state_change", from, to, reason, actor);
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

    private void Journal(string type, JobStatus? from, JobStatus? to, string? reason, string actor, string? data = null) =>
        State.Outbox.Add(new JobJournalEntry(JobId, ++State.JournalSeq, time.GetUtcNow(), type, from, to, reason, actor, SiloName, data));

    private async Task SaveAsync()
    {
        State.Version++;
        State.UpdatedAt = time.GetUtcNow();
        State.ActiveSilo = SiloName;
        try
        {
            await state.WriteStateAsync();
        }
        catch (Exception ex) when (ex is not (OutOfMemoryException or Orleans.Storage.InconsistentStateException))
        {
            // The database is away: this activation's state is ahead of the stored one. Keep trying to
            // store it, so a change the caller was told failed (503) is not half-done forever.
            ScheduleFlush();
            throw;
        }

        CancelFlush();
        Project();
        if (_deactivating)
        {
            return;
        }

        if (State.WatchedBy is not null)
        {
            EnsureWatchdog();
        }
        else
        {
            await RemoveWatchdogAsync();
        }

        EnsureWaitingCheck();

        if (JobTransitions.IsTerminal(State.Status) && _run is null)
        {
            // A finished job is read rarely: free its memory now instead of after the idle collection age
            // (at thousands of jobs per second that would be millions of activations). A read activates it again.
            DeactivateOnIdle();
        }
    }

    /// <summary>
    /// Sends the index row and the journal entries not yet handed over to the batcher; each
    /// entry leaves the outbox once its write is confirmed. After a failed write its entries
    /// are sent again with the next save (or on the next activation, from the persisted outbox).
    /// </summary>
    private void Project()
    {
        var entries = State.Outbox.Where(e => e.Seq > _handedOverSeq).ToList();
        if (entries.Count > 0)
        {
            _handedOverSeq = entries[^1].Seq;
        }

        _ = ConfirmAsync(projections.WriteAsync(IndexRow(), entries), entries);

        async Task ConfirmAsync(Task written, List<JobJournalEntry> sent)
        {
            try
            {
                await written;
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // A lost index row is rewritten by the next save; lost entries are sent again.
                if (sent.Count > 0)
                {
                    _handedOverSeq = Math.Min(_handedOverSeq, sent[0].Seq - 1);
                }

                return;
            }

            if (sent.Count > 0)
            {
                State.Outbox.RemoveAll(e => e.Seq >= sent[0].Seq && e.Seq <= sent[^1].Seq);
            }
        }
    }

    private JobIndexRow IndexRow()
    {
        var progress = _run?.Progress.Snapshot() ?? State.Progress;
        return new JobIndexRow(
            JobId, State.Type, State.Status, State.Priority, null, null, progress.Fraction, progress.Processed, progress.Total,
            JobTransitions.IsTerminal(State.Status) ? null : State.OwnerSilo, State.Attempt, State.Recoveries, State.QueuedReason,
            State.Error, State.IdempotencyKey, State.CreatedAt, State.RetryAt, State.StartedAt, State.FinishedAt,
            State.LastProgressAt, State.UpdatedAt, State.Version);
    }

    private JobSnapshot Snapshot()
    {
        var run = _run;
        return new JobSnapshot(
            JobId, State.Type, State.Status, run?.Progress.Snapshot() ?? State.Progress, State.Attempt, State.MaxAttempts,
            JobTransitions.IsTerminal(State.Status) ? null : State.OwnerSilo, State.CreatedAt, State.StartedAt, State.FinishedAt,
            State.Error, State.QueuedReason, run?.Current() ?? State.Checkpoint, run?.Messages ?? State.Messages, State.Attempts.ToList(),
            State.Priority, State.IdempotencyKey, State.Recoveries, State.Version, State.ParametersJson,
            State.Status == JobStatus.Queued ? State.RetryAt : null, State.LeaseWorker, State.LeaseToken is null ? null : _leaseExpiresAt);
    }

    private void ScheduleFlush()
    {
        if (!_activated || _deactivating || _flushTimer is not null || !State.Exists)
        {
            return;
        }

        _flushFailures++;
        var delay = TimeSpan.FromMilliseconds(Math.Min(FlushMaxDelay.TotalMilliseconds, 250 * Math.Pow(2, Math.Min(_flushFailures - 1, 10))));
        _flushTimer = this.RegisterGrainTimer(FlushAsync, new GrainTimerCreationOptions
        {
            DueTime = delay,
            Period = Timeout.InfiniteTimeSpan,
            KeepAlive = true,
        });
    }

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        // A one-shot timer: disposing it here would cancel this very callback.
        _flushTimer = null;
        try
        {
            await SaveAsync();
            LogFlushed(logger, JobId, _flushFailures);
            _flushFailures = 0;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogFlushFailed(logger, JobId, ex.GetType().Name, ex.Message);
        }
    }

    private void CancelFlush()
    {
        _flushTimer?.Dispose();
        _flushTimer = null;
    }

    /// <summary>
    /// Gives a running job its reminder once it has run for <see cref="WatchdogOptions.RegisterAfter"/>.
    /// A waiting job needs none: nothing of it can stall, the recovery sweep finds it through
    /// <c>watched_by</c> if its silo dies, and it re-asks for its slot itself. Registering a
    /// reminder for each of thousands of scheduled jobs would cost a commit apiece.
    /// </summary>
    private void EnsureWatchdog()
    {
        if (State.WatchdogRegistered || _watchdogTimer is not null || _deactivating
            || State.Status is not (JobStatus.Running or JobStatus.Cancelling))
        {
            return;
        }

        _watchdogTimer = this.RegisterGrainTimer(RegisterWatchdogAsync, new GrainTimerCreationOptions
        {
            DueTime = Watch.RegisterAfter,
            Period = Timeout.InfiniteTimeSpan,
            KeepAlive = false,
        });
    }

    private async Task RegisterWatchdogAsync(CancellationToken cancellationToken)
    {
        // A one-shot timer: disposing it here would cancel this very callback.
        var timer = _watchdogTimer;
        _watchdogTimer = null;
        try
        {
            if (State.Status is not (JobStatus.Running or JobStatus.Cancelling) || State.WatchdogRegistered)
            {
                return;
            }

            // Stored with the job's next write; a reminder left behind by a crash removes itself on its next tick.
            _watchdog = await this.RegisterOrUpdateReminder(WatchdogReminder, Watch.ReminderPeriod, Watch.ReminderPeriod, CancellationToken.None);
            State.WatchdogRegistered = true;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The reminder service may be moving (a silo just died): try again shortly.
            LogWatchdogNotRegistered(logger, ex, JobId);
            timer?.Dispose();
            timer = null;
            _watchdogTimer = this.RegisterGrainTimer(RegisterWatchdogAsync, new GrainTimerCreationOptions
            {
                DueTime = TimeSpan.FromSeconds(5),
                Period = Timeout.InfiniteTimeSpan,
                KeepAlive = false,
            });
        }
        finally
        {
            timer?.Dispose();
        }
    }

    /// <summary>
    /// A job waiting for a slot asks again every <see cref="WaitingRecheck"/>: asking is idempotent,
    /// and if the admission grain lost its queue with its silo, the job is queued again at once.
    /// </summary>
    private void EnsureWaitingCheck()
    {
        if (_waitingTimer is not null || _deactivating || State.Status != JobStatus.Queued || State.RetryAt is not null || _run is not null)
        {
            return;
        }

        _waitingTimer = this.RegisterGrainTimer(RecheckWaitingAsync, new GrainTimerCreationOptions
        {
            DueTime = WaitingRecheck,
            Period = WaitingRecheck,
            KeepAlive = true, // a waiting job is not idle: collecting it would only make it wake itself
        });
    }

    private async Task RecheckWaitingAsync(CancellationToken cancellationToken)
    {
        if (State.Status != JobStatus.Queued || State.RetryAt is not null || _run is not null)
        {
            _waitingTimer?.Dispose();
            _waitingTimer = null;
            return;
        }

        var ticket = await Admission.RequestAsync(JobId, State.Priority, State.UpdatedAt);
        if (ticket.Granted && State.Status == JobStatus.Queued && State.RetryAt is null && _run is null)
        {
            _waitingTimer?.Dispose();
            _waitingTimer = null;
            await StartAsync(State.StartAsNewAttempt, System);
        }
    }

    private async Task RemoveWatchdogAsync()
    {
        _watchdogTimer?.Dispose();
        _watchdogTimer = null;
        if (!State.WatchdogRegistered && _watchdog is null)
        {
            return;
        }

        try
        {
            var reminder = _watchdog ?? await this.GetReminder(WatchdogReminder);
            if (reminder is not null)
            {
                await this.UnregisterReminder(reminder);
            }

            _watchdog = null;
            State.WatchdogRegistered = false;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The reminder's next tick finds nothing to watch and tries again.
            LogWatchdogNotRemoved(logger, ex, JobId);
        }
    }

    private void ScheduleRetry(DateTimeOffset at)
    {
        CancelRetry();
        var due = at - time.GetUtcNow();
        // The timer lives in this activation: keep it until then (idle collection would drop it).
        DelayDeactivation(due > TimeSpan.Zero ? due + TimeSpan.FromMinutes(1) : TimeSpan.FromMinutes(1));
        _retryTimer = this.RegisterGrainTimer(RetryAsync, new GrainTimerCreationOptions
        {
            DueTime = due < TimeSpan.Zero ? TimeSpan.Zero : due,
            Period = Timeout.InfiniteTimeSpan,
            KeepAlive = true,
        });
    }

    private async Task RetryAsync(CancellationToken cancellationToken)
    {
        CancelRetry();
        if (State.Status == JobStatus.Queued && State.RetryAt is { } at && _run is null)
        {
            if (at > time.GetUtcNow())
            {
                // Timers follow a monotonic clock; never start before the wall-clock time asked for.
                ScheduleRetry(at);
                return;
            }

            // A retry, or the first start of a scheduled job: a new attempt either way.
            State.RetryAt = null;
            await TryStartAsync(newAttempt: true, System);
        }
    }

    private void CancelRetry()
    {
        _retryTimer?.Dispose();
        _retryTimer = null;
    }

    private static JobSubmitResult Invalid(JobParameterError error) => new(JobSubmitOutcome.Invalid, null, [error]);

    private static IEnumerable<JobParameterError> ValidateOverrides(JobSubmission submission)
    {
        if (submission.MaxAttempts is < 1 or > 100)
        {
            yield return new("maxAttempts", "must be from 1 to 100");
        }

        if (submission.CheckpointEveryItems is < 1 or > 1_000_000)
        {
            yield return new("checkpoint.everyItems", "must be from 1 to 1000000");
        }

        if (submission.CheckpointInterval is { } interval && (interval < TimeSpan.FromMilliseconds(100) || interval > TimeSpan.FromHours(1)))
        {
            yield return new("checkpoint.intervalMs", "must be from 100 to 3600000");
        }
    }

    /// <summary>Identifies the request behind an idempotency key; invalid JSON is fingerprinted as given (it is refused anyway).</summary>
    private static string Fingerprint(JobSubmission s, JsonElement? parsed)
    {
        var parameters = parsed?.GetRawText() ?? s.ParametersJson;
        var text = string.Join('\n', s.Type, parameters, s.Priority, s.MaxAttempts, s.CheckpointEveryItems, s.CheckpointInterval?.Ticks, s.RunAfter?.UtcTicks);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: its handoff checkpoint could not be saved; the next activation resumes from the previous one")]
    private static partial void LogHandoffNotSaved(ILogger logger, Exception exception, string jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: its watchdog reminder could not be registered; the recovery sweep still covers it")]
    private static partial void LogWatchdogNotRegistered(ILogger logger, Exception exception, string jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: its watchdog reminder could not be removed now; its next tick removes it")]
    private static partial void LogWatchdogNotRemoved(ILogger logger, Exception exception, string jobId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Job {JobId}: its activation is deactivated ({Code}: {Description}) while it runs or waits; it wakes itself in a new activation")]
    private static partial void LogWakingItself(ILogger logger, string jobId, DeactivationReasonCode code, string description);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: it could not be woken in a new activation; any call to it, such as reading it through the API, wakes it")]
    private static partial void LogSelfWakeFailed(ILogger logger, Exception exception, string jobId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: its state is stored again after {Failures} failed write(s)")]
    private static partial void LogFlushed(ILogger logger, string jobId, int failures);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: storing its state failed again ({Error}: {Message}); retrying")]
    private static partial void LogFlushFailed(ILogger logger, string jobId, string error, string message);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} recovered on this silo (woken: {Reason})")]
    private static partial void LogWoken(ILogger logger, string jobId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: reporting the end of run {Epoch} failed (attempt {Attempt}); retrying")]
    private static partial void LogRunEndRetry(ILogger logger, Exception exception, string jobId, long epoch, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: the end of run {Epoch} could not be reported; recovery resumes from the last checkpoint")]
    private static partial void LogRunEndLost(ILogger logger, Exception exception, string jobId, long epoch);
}
