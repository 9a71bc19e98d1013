using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using OrleansJobs.Jobs.Handlers;

namespace OrleansJobs.Jobs;

/// <summary>
/// Jobs of external types: an external worker holds the run under a lease. The lease token is
/// the fencing token of the worker: a report under any other token changes nothing. The lease
/// lasts <see cref="JobState.LeaseDuration"/> after the claim and after every accepted report;
/// when it lapses the job goes back to the queue with its last checkpoint (a recovery, under the
/// same limit as a watchdog restart). Cancel, pause, kill and force-fail end the lease at once:
/// the worker learns it from the refusal of its next report.
/// </summary>
public sealed partial class JobGrain
{
    private const int MaxKeptMessages = 100;

    private DateTimeOffset _leaseExpiresAt;
    private DateTimeOffset _leaseClaimedAt; // when the worker's run began: the claim, or the attempt's start after a silo loss
    private IGrainTimer? _leaseTimer;

    private bool IsExternal => handlers.TryGet(State.Type, out var registration) && registration.IsExternal;

    async Task<WorkerLease?> IJobGrain.ClaimAsync(string workerId, TimeSpan leaseDuration)
    {
        var now = time.GetUtcNow();
        if (!State.Exists || State.Status != JobStatus.Queued || State.RetryAt is { } retryAt && retryAt > now || _run is not null
            || !handlers.TryGet(State.Type, out var registration) || !registration.IsExternal)
        {
            return null;
        }

        var options = registration.Options;
        var duration = leaseDuration < options.MinLeaseDuration ? options.MinLeaseDuration
            : leaseDuration > options.MaxLeaseDuration ? options.MaxLeaseDuration : leaseDuration;
        CancelRetry();
        BeginRun(State.StartAsNewAttempt, $"claimed by worker {workerId} with a lease of {Seconds(duration)}", $"worker:{workerId}");
        State.LeaseToken = $"{State.RunEpoch}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16))}";
        State.LeaseWorker = workerId;
        State.LeaseDuration = duration;
        State.LeaseExpiresAt = now + duration;
        State.LastProgressAt = now;
        _leaseExpiresAt = now + duration;
        _leaseClaimedAt = now;
        await SaveAsync();
        ArmLease();
        return new WorkerLease(JobId, State.Type, State.ParametersJson, State.Checkpoint, State.Progress, State.Attempt, State.LeaseToken,
            _leaseExpiresAt, duration, State.CheckpointEveryItems, State.CheckpointInterval);
    }

    async Task<WorkerReportResult> IJobGrain.ReportAsync(WorkerReport report)
    {
        if (!State.Exists)
        {
            return new WorkerReportResult(WorkerReportOutcome.NotFound, null, null, null);
        }

        if (State.LeaseToken is null || !CryptographicOperations.FixedTimeEquals(
                Encoding.UTF8.GetBytes(report.LeaseToken), Encoding.UTF8.GetBytes(State.LeaseToken)))
        {
            return LeaseLost("this lease token is not the job's current lease: the lease lapsed, the job was claimed again, " +
                $"or it was cancelled, paused or killed (status {State.Status})");
        }

        var now = time.GetUtcNow();
        if (now >= _leaseExpiresAt)
        {
            var expiredAt = _leaseExpiresAt;
            await ExpireLeaseAsync();
            return LeaseLost($"the lease lapsed at {expiredAt:O}; the job went back to the queue (status {State.Status})");
        }

        var progressed = report.Progress is not null || report.Checkpoint is not null;
        if (report.Progress is { } progress)
        {
            State.Progress = progress;
        }

        if (progressed)
        {
            State.LastProgressAt = now;
        }

        if (report.Messages is { Count: > 0 } messages)
        {
            State.Messages = [.. State.Messages.Concat(messages).TakeLast(MaxKeptMessages)];
        }

        switch (report.Kind)
        {
            case WorkerReportKind.Complete:
            {
                State.Checkpoint = report.Checkpoint ?? State.Checkpoint;
                var worker = EndLease();
                Finish(JobStatus.Completed, "completed", $"worker {worker} reported completion", $"worker:{worker}");
                await SaveAsync();
                await SyncSlotAsync();
                return Accepted();
            }

            case WorkerReportKind.Fail:
            {
                // A retry continues from this checkpoint, as with a failed run in the silo.
                State.Checkpoint = report.Checkpoint ?? State.Checkpoint;
                var worker = EndLease();
                State.RunEpoch++;
                FailAttempt($"worker {worker}: {report.Error ?? "reported failure"}");
                await SaveAsync();
                await SyncSlotAsync();
                return Accepted();
            }
        }

        _leaseExpiresAt = now + State.LeaseDuration;
        if (report.Checkpoint is { } checkpoint)
        {
            // Durable: a lapsed lease or a lost silo resumes from here.
            State.Checkpoint = checkpoint;
            State.LeaseExpiresAt = _leaseExpiresAt;
            await SaveAsync();
        }
        else if (report.Kind == WorkerReportKind.Messages)
        {
            State.LeaseExpiresAt = _leaseExpiresAt;
            await SaveAsync();
        }

        return Accepted();

        WorkerReportResult Accepted() => new(WorkerReportOutcome.Accepted, null, State.Status, State.LeaseToken is null ? null : _leaseExpiresAt);

        WorkerReportResult LeaseLost(string why) => new(WorkerReportOutcome.LeaseLost, why, State.Status, null);
    }

    /// <summary>A new activation of a job a worker holds: the worker may well still run it, so the lease stands, for at least one more lease duration.</summary>
    private async Task ResumeLeaseAsync()
    {
        var grace = time.GetUtcNow() + State.LeaseDuration;
        // Progress the worker reported since the last stored checkpoint was lost with the old activation:
        // its stall window starts over; the overdue clock keeps the attempt's start.
        State.LastProgressAt = time.GetUtcNow();
        _leaseClaimedAt = State.Attempts.Count > 0 ? State.Attempts[^1].StartedAt : time.GetUtcNow();
        _leaseExpiresAt = State.LeaseExpiresAt is { } stored && stored > grace ? stored : grace;
        if (State.ActiveSilo != SiloName)
        {
            // Point watched_by (and the owner shown) at this silo, which now keeps the lease.
            _recovered = true;
            State.OwnerSilo = SiloName;
            await SaveAsync();
        }
        else
        {
            EnsureWatchdog();
        }

        ArmLease();
    }

    private void ArmLease()
    {
        _leaseTimer?.Dispose();
        _leaseTimer = null;
        if (State.LeaseToken is null || _deactivating)
        {
            return;
        }

        var due = _leaseExpiresAt - time.GetUtcNow();
        _leaseTimer = this.RegisterGrainTimer(LeaseTimerAsync, new GrainTimerCreationOptions
        {
            DueTime = due > TimeSpan.Zero ? due : TimeSpan.Zero,
            Period = Timeout.InfiniteTimeSpan,
            KeepAlive = true,
        });
    }

    private async Task LeaseTimerAsync(CancellationToken cancellationToken)
    {
        if (State.LeaseToken is null)
        {
            return;
        }

        if (time.GetUtcNow() < _leaseExpiresAt)
        {
            ArmLease(); // extended meanwhile
            return;
        }

        await ExpireLeaseAsync();
    }

    /// <summary>
    /// The watchdog's look at a job a worker holds (each reminder tick): the lease lapsed (a backstop
    /// for the lease timer), or the worker is alive but stalled (no progress reported for the type's
    /// stall timeout) or overdue (holding the job past the type's MaxRunTime). Either way the lease
    /// ends and the job goes back to the queue, as when the worker goes silent.
    /// </summary>
    private async Task CheckLeaseAsync()
    {
        var now = time.GetUtcNow();
        if (now >= _leaseExpiresAt)
        {
            await ExpireLeaseAsync();
            return;
        }

        if (!handlers.TryGet(State.Type, out var registration))
        {
            return;
        }

        var stallTimeout = registration.Options.StallTimeout ?? Watch.StallTimeout;
        var lastProgress = State.LastProgressAt ?? _leaseClaimedAt;
        if (now - lastProgress >= stallTimeout)
        {
            await ExpireLeaseAsync("stall_detected",
                $"worker {State.LeaseWorker} reported no progress for {Seconds(now - lastProgress)} (stall timeout {Seconds(stallTimeout)})");
        }
        else if (registration.Options.MaxRunTime is { } maxRunTime && now - _leaseClaimedAt >= maxRunTime)
        {
            await ExpireLeaseAsync("overdue",
                $"worker {State.LeaseWorker} has held it for {Seconds(now - _leaseClaimedAt)}, past the type's max run time of {Seconds(maxRunTime)}");
        }
    }

    /// <summary>The worker went silent, stalled or overran: back to the queue from the checkpoint, or paused/failed once the type's recoveries are spent.</summary>
    private async Task ExpireLeaseAsync(string kind = "lease_expired", string? why = null)
    {
        var worker = State.LeaseWorker;
        var expiredAt = _leaseExpiresAt;
        var maxRecoveries = handlers.TryGet(State.Type, out var registration) ? registration.Options.MaxRecoveries : new JobTypeOptions().MaxRecoveries;
        var data = JsonSerializer.Serialize(new
        {
            worker,
            leaseExpiredAt = expiredAt,
            leaseSeconds = State.LeaseDuration.TotalSeconds,
            checkpoint = State.Checkpoint.Cursor,
            processed = State.Checkpoint.Processed,
            restarts = State.WatchdogRestarts,
            maxRecoveries,
        });
        var problem = why ?? $"worker {worker} sent nothing for {Seconds(State.LeaseDuration)}: its lease lapsed at {expiredAt:O}";
        Journal(kind, State.Status, State.Status, problem, WatchdogActor, data);
        _ = EndLease();
        State.RunEpoch++;

        if (State.Status == JobStatus.Cancelling)
        {
            Finish(JobStatus.Cancelled, "cancelled", $"the cancel completed when the lease lapsed: {problem}", WatchdogActor);
        }
        else if (State.WatchdogRestarts < maxRecoveries)
        {
            State.WatchdogRestarts++;
            State.Recoveries++;
            State.StartAsNewAttempt = false;
            Journal("recovery", State.Status, JobStatus.Queued,
                $"back in the queue with its checkpoint ({State.WatchdogRestarts} of {maxRecoveries}): {problem}", WatchdogActor, data);
            Move(JobStatus.Queued, "the worker's lease lapsed; waiting for a worker", WatchdogActor);
            State.QueuedReason = $"waiting for a worker: the lease of {worker} lapsed";
            await SaveAsync();
            await Admission.ReleaseAsync(JobId);
            await Admission.RequestAsync(JobId, State.Priority, time.GetUtcNow());
            return;
        }
        else
        {
            GiveUp(kind, problem, $"{maxRecoveries} lapsed leases", registration?.Options.WhenRecoveriesExhausted ?? RecoveriesExhaustedAction.Pause, data);
        }

        await SaveAsync();
        await SyncSlotAsync();
    }

    /// <summary>No worker holds the job any more; its token is void from now on. Returns the worker that held it.</summary>
    private string? EndLease()
    {
        var worker = State.LeaseWorker;
        State.LeaseToken = null;
        State.LeaseWorker = null;
        State.LeaseExpiresAt = null;
        _leaseTimer?.Dispose();
        _leaseTimer = null;
        return worker;
    }
}
