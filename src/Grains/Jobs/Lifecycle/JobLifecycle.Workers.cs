using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using OrleansJobs.Jobs.Handlers;
using OrleansJobs.Jobs.Resources;
using OrleansJobs.Jobs.Watchdog;

namespace OrleansJobs.Jobs.Lifecycle;

/// <summary>
/// Jobs of external types: a worker holds the run under a lease. The lease token is the worker's
/// fencing token: a report under any other token changes nothing. The lease lasts
/// <see cref="JobState.LeaseDuration"/> after the claim and after every accepted report (in
/// memory; stored with the next write); when it lapses the job goes back to the queue with its
/// last checkpoint, under the same limit as a watchdog restart.
/// </summary>
public sealed partial class JobLifecycle
{
    private const int MaxKeptMessages = 100;

    private DateTimeOffset _leaseExpiresAt;
    private DateTimeOffset _leaseClaimedAt; // when the worker's run began: the claim, or the attempt's start after a silo loss

    /// <summary>The lease's end as the live activation knows it (heartbeats extend it in memory); null when no worker holds the job.</summary>
    public DateTimeOffset? LeaseExpiresAt => State.LeaseToken is null ? null : _leaseExpiresAt;

    /// <summary>
    /// Leases the job to <paramref name="workerId"/> if it is queued and due and its type is external;
    /// <paramref name="secret"/> makes the token unguessable. Null: not claimable (any more).
    /// </summary>
    public (WorkerLease? Lease, JobDecision Decision) Claim(string workerId, TimeSpan leaseDuration, string secret)
    {
        var now = time.GetUtcNow();
        if (!State.Exists || State.Status != JobStatus.Queued || State.RetryAt is { } retryAt && retryAt > now || HasLiveRun
            || TypeOptions is not { External: true } options)
        {
            return (null, JobDecision.None);
        }

        var duration = leaseDuration < options.MinLeaseDuration ? options.MinLeaseDuration
            : leaseDuration > options.MaxLeaseDuration ? options.MaxLeaseDuration : leaseDuration;
        if (State.DeviceId is { } device)
        {
            if (!State.Held.Contains(ResourceKey.Device(device).ToString()))
            {
                return (null, JobDecision.None); // not its device's turn yet
            }
        }
        else
        {
            var slot = ResourceKey.RunSlot(State.Type).ToString();
            if (!State.Held.Contains(slot))
            {
                State.Held.Add(slot); // the claim was handed out by the type's slots
            }
        }

        _acquiring = null;
        BeginRun(State.StartAsNewAttempt, $"claimed by worker {workerId} with a lease of {Seconds(duration)}", JournalActors.Worker(workerId));
        State.LeaseToken = $"{State.RunEpoch}-{secret}";
        State.LeaseWorker = workerId;
        State.LeaseDuration = duration;
        State.LeaseExpiresAt = now + duration;
        State.LastProgressAt = now;
        _leaseExpiresAt = now + duration;
        _leaseClaimedAt = now;
        var lease = new WorkerLease(JobId, State.Type, State.ParametersJson, State.Checkpoint, State.Progress, State.Attempt, State.LeaseToken,
            _leaseExpiresAt, duration, State.CheckpointEveryItems, State.CheckpointInterval);
        return (lease, JobDecision.Saved(new CancelWake(), new WatchLease(_leaseExpiresAt)));
    }

    /// <summary>A report of the worker holding the lease; refused, changing nothing, under any other token.</summary>
    public (WorkerReportResult Result, JobDecision Decision) Report(WorkerReport report)
    {
        if (!State.Exists)
        {
            return (new WorkerReportResult(WorkerReportOutcome.NotFound, null, null, null), JobDecision.None);
        }

        if (State.LeaseToken is null)
        {
            return (NotLeased(report.LeaseToken), JobDecision.None);
        }

        if (!CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(report.LeaseToken), Encoding.UTF8.GetBytes(State.LeaseToken)))
        {
            return (Refused(WorkerReportOutcome.LeaseLost, "this lease token is not the job's current lease: the lease lapsed, the job was " +
                $"claimed again, or it was cancelled, paused or killed (status {State.Status})"), JobDecision.None);
        }

        var now = time.GetUtcNow();
        if (now >= _leaseExpiresAt)
        {
            var expiredAt = _leaseExpiresAt;
            var lapsed = LeaseLost();
            return (Refused(WorkerReportOutcome.LeaseLost, $"the lease lapsed at {expiredAt:O}; the job went back to the queue (status {State.Status})"), lapsed);
        }

        if (report.Progress is { } progress)
        {
            State.Progress = progress;
        }

        if (report.Progress is not null || report.Checkpoint is not null)
        {
            State.LastProgressAt = now;
        }

        if (report.Messages is { Count: > 0 } messages)
        {
            State.Messages = [.. State.Messages.Concat(messages).TakeLast(MaxKeptMessages)];
        }

        var effects = new List<JobEffect>();
        switch (report.Kind)
        {
            case WorkerReportKind.Complete:
            {
                State.Checkpoint = report.Checkpoint ?? State.Checkpoint;
                var worker = EndLease(effects);
                Finish(JobStatus.Completed, "completed", $"worker {worker} reported completion", JournalActors.Worker(worker));
                ReleaseIfIdle(effects);
                return (Accepted(), JobDecision.Saved(effects));
            }

            case WorkerReportKind.Fail:
            {
                // A retry continues from this checkpoint, as with a failed run in the silo.
                State.Checkpoint = report.Checkpoint ?? State.Checkpoint;
                var worker = EndLease(effects);
                Supersede();
                FailAttempt($"worker {worker}: {report.Error ?? "reported failure"}", effects);
                ReleaseIfIdle(effects);
                return (Accepted(), JobDecision.Saved(effects));
            }

            case WorkerReportKind.Release:
            {
                State.Checkpoint = report.Checkpoint ?? State.Checkpoint;
                var worker = EndLease(effects);
                Supersede();
                var why = $"worker {worker} gave the job back{(report.Error is { } reason ? $": {reason}" : "")}";
                // The same attempt goes on from the checkpoint with the next worker: a stop is no failure.
                if (State.DeviceId is not null)
                {
                    Journal(JournalEntryTypes.Handoff, State.Status, JobStatus.Queued, $"{why}; it waits for the device's agent with its checkpoint", JournalActors.Worker(worker));
                    State.StartAsNewAttempt = false;
                    Move(JobStatus.Queued, why, JournalActors.Worker(worker));
                    WaitsForAgent();
                    return (Accepted(), JobDecision.Saved(effects));
                }

                Journal(JournalEntryTypes.Handoff, State.Status, JobStatus.Queued, $"{why}; back in the queue with its checkpoint", JournalActors.Worker(worker));
                Requeue($"waiting for a worker: {worker} gave the job back", JournalActors.Worker(worker), effects);
                return (Accepted(), JobDecision.Saved(effects));
            }
        }

        _leaseExpiresAt = now + State.LeaseDuration;
        effects.Add(new WatchLease(_leaseExpiresAt));
        // A checkpoint is durable at once (a lapsed lease or a lost silo resumes from it); so are messages.
        var save = report.Checkpoint is not null || report.Kind == WorkerReportKind.Messages;
        if (report.Checkpoint is { } checkpoint)
        {
            State.Checkpoint = checkpoint;
        }

        if (save)
        {
            State.LeaseExpiresAt = _leaseExpiresAt;
        }

        return (Accepted(), new JobDecision(save, effects));

        WorkerReportResult Accepted() => new(WorkerReportOutcome.Accepted, null, State.Status, LeaseExpiresAt);

        WorkerReportResult Refused(WorkerReportOutcome outcome, string why) => new(outcome, why, State.Status, null);
    }

    /// <summary>
    /// No worker holds the job now. A token of one of its earlier leases (it carries that run's epoch)
    /// is a worker that lost its lease; anything else is told that no worker runs this job.
    /// </summary>
    private WorkerReportResult NotLeased(string token)
    {
        var dash = token.IndexOf('-', StringComparison.Ordinal);
        if (TypeOptions?.External == true && dash > 0 && long.TryParse(token.AsSpan(0, dash), out var epoch) && epoch > 0 && epoch <= State.RunEpoch)
        {
            return new(WorkerReportOutcome.LeaseLost, "this lease ended: it lapsed, or the job was completed, failed, cancelled, paused or " +
                $"killed since (status {State.Status})", State.Status, null);
        }

        var why = TypeOptions?.External == true ? "no worker holds it now" : "its type runs in the silos, not on workers";
        return new(WorkerReportOutcome.NotLeased, $"the job is not run by a worker: {why} (status {State.Status})", State.Status, null);
    }

    /// <summary>A new activation of a job a worker holds: the worker may well still run it, so the lease stands, for at least one more lease duration.</summary>
    private JobDecision ResumeLease()
    {
        var now = time.GetUtcNow();
        var grace = now + State.LeaseDuration;
        // Progress the worker reported since the last stored checkpoint was lost with the old activation:
        // its stall window starts over; the overdue clock keeps the attempt's start.
        State.LastProgressAt = now;
        _leaseClaimedAt = State.Attempts.Count > 0 ? State.Attempts[^1].StartedAt : now;
        _leaseExpiresAt = State.LeaseExpiresAt is { } stored && stored > grace ? stored : grace;
        if (State.ActiveSilo == silo)
        {
            return JobDecision.Unsaved(new WatchLease(_leaseExpiresAt));
        }

        // Point watched_by (and the owner shown) at this silo, which now keeps the lease.
        _recovered = true;
        State.OwnerSilo = silo;
        return JobDecision.Saved(new WatchLease(_leaseExpiresAt));
    }

    /// <summary>
    /// The lease's timer or the watchdog: the lease lapsed, or the worker is alive but stalled (no
    /// progress for the stall timeout) or overdue (past the type's MaxRunTime). Either way the lease
    /// ends and the job goes back to the queue, as when the worker goes silent.
    /// </summary>
    public JobDecision LeaseCheck()
    {
        if (State.LeaseToken is null)
        {
            return JobDecision.None;
        }

        var now = time.GetUtcNow();
        if (now >= _leaseExpiresAt)
        {
            return LeaseLost();
        }

        var stuck = RunHealth.Check(now, State.LastProgressAt ?? _leaseClaimedAt, _leaseClaimedAt, StallTimeout, TypeOptions?.MaxRunTime, State.LeaseWorker);
        return stuck is { } run ? LeaseLost(run.Kind, run.Problem) : JobDecision.Unsaved(new WatchLease(_leaseExpiresAt));
    }

    /// <summary>The worker went silent, stalled or overran: back to the queue from the checkpoint, or paused/failed once the type's recoveries are spent.</summary>
    private JobDecision LeaseLost(string kind = JournalEntryTypes.LeaseExpired, string? why = null)
    {
        var worker = State.LeaseWorker;
        if (State.DeviceId is { } device)
        {
            // A device job is never handed to anyone else: its agent went silent, so the device stops it.
            var silent = why ?? $"agent {worker} sent nothing for {Seconds(State.LeaseDuration)}: its lease lapsed at {_leaseExpiresAt:O}";
            return Interrupt(kind == JournalEntryTypes.LeaseExpired ? Devices.DeviceCauses.HeartbeatLost : kind, $"device '{device}': {silent}", JournalActors.Watchdog);
        }

        var expiredAt = _leaseExpiresAt;
        var options = TypeOptions ?? new JobTypeOptions();
        var data = JsonSerializer.Serialize(new
        {
            worker,
            leaseExpiredAt = expiredAt,
            leaseSeconds = State.LeaseDuration.TotalSeconds,
            checkpoint = State.Checkpoint.Cursor,
            processed = State.Checkpoint.Processed,
            restarts = State.WatchdogRestarts,
            maxRecoveries = options.MaxRecoveries,
        });
        var problem = why ?? $"worker {worker} sent nothing for {Seconds(State.LeaseDuration)}: its lease lapsed at {expiredAt:O}";
        Journal(kind, State.Status, State.Status, problem, JournalActors.Watchdog, data);
        var effects = new List<JobEffect>();
        EndLease(effects);
        Supersede();

        switch (AfterRunLost($"the {StopName} completed when the lease lapsed: {problem}", options))
        {
            case RunLoss.Restart:
                Journal(JournalEntryTypes.Recovery, State.Status, JobStatus.Queued,
                    $"back in the queue with its checkpoint ({State.WatchdogRestarts} of {options.MaxRecoveries}): {problem}", JournalActors.Watchdog, data);
                Requeue($"waiting for a worker: the lease of {worker} lapsed", JournalActors.Watchdog, effects);
                return JobDecision.Saved(effects);
            case RunLoss.GiveUp:
                GiveUp(kind, problem, $"{options.MaxRecoveries} lapsed leases", options.WhenRecoveriesExhausted, data);
                break;
        }

        ReleaseIfIdle(effects);
        return JobDecision.Saved(effects);
    }

    /// <summary>The same attempt waits for the next worker, its checkpoint kept: out of the type's holders and into its queue again, behind the jobs already waiting.</summary>
    private void Requeue(string queuedReason, string actor, List<JobEffect> effects)
    {
        State.StartAsNewAttempt = false;
        Move(JobStatus.Queued, queuedReason, actor);
        State.QueuedReason = queuedReason;
        var slot = ResourceKey.RunSlot(State.Type);
        State.Held.Clear();
        _acquiring = slot;
        effects.Add(new ReleaseResource(slot));
        effects.Add(new AcquireResource(slot));
    }

    /// <summary>No worker holds the job any more; its token is void from now on. Returns the worker that held it.</summary>
    private string? EndLease(List<JobEffect> effects)
    {
        var worker = State.LeaseWorker;
        State.LeaseToken = null;
        State.LeaseWorker = null;
        State.LeaseExpiresAt = null;
        effects.Add(new ForgetLease());
        return worker;
    }
}
