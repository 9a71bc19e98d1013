using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansJobs.Devices;
using OrleansJobs.Events;
using OrleansJobs.Hosting;
using OrleansJobs.Jobs.Handlers;
using OrleansJobs.Jobs.Lifecycle;
using OrleansJobs.Jobs.Persistence;
using OrleansJobs.Jobs.Projections;
using OrleansJobs.Jobs.Resources;
using OrleansJobs.Jobs.Runs;
using OrleansJobs.Jobs.Watchdog;
using OrleansJobs.Libraries;
using OrleansJobs.Membership;
using OrleansJobs.Recovery;
using OrleansJobs.Telemetry;

namespace OrleansJobs.Jobs;

/// <summary>
/// A job. The grain is a shell: each entry point asks the <see cref="JobLifecycle"/>, which decides
/// and changes the state, then <see cref="ApplyAsync"/> asks for resources, stores the state once
/// and carries out the effects. Single activation is the job's lock. The handler runs off the
/// grain scheduler (<see cref="JobRunHost"/>) and reports through <see cref="IJobRunReports"/>.
/// </summary>
public sealed partial class JobGrain(
    [PersistentState("job", OrleansJobsDatabase.JobStore)] IPersistentState<JobState> state,
    JobHandlerRegistry handlers,
    ProjectionBatcher projections,
    ProjectionWriter index,
    JobPurgeStore purges,
    JobImportStore imports,
    SiloLiveness liveness,
    ILocalSiloDetails silo,
    IOptions<WatchdogOptions> watchdogOptions,
    JobMetrics metrics,
    JobEventPublisher events,
    TimeProvider time,
    ILogger<JobGrain> logger) : Grain, IJobGrain, IJobRunReports, IResourceHolder, IDeviceHolder, IRecoverableJob, IRemindable
{
    private JobLifecycle _life = null!;
    private JobRunHost _runs = null!;
    private JobStateWriter _writer = null!;
    private JobCommitMetrics _metrics = null!;
    private WatchdogReminder _watchdog = null!;
    private JobSnapshot? _saved; // the job as last stored: reads never show a change that is not durable
    private IGrainTimer? _wakeTimer;
    private IGrainTimer? _leaseTimer;
    private IGrainTimer? _lockWaitTimer;
    private bool _deactivating;

    private string JobId => this.GetPrimaryKeyString();

    private string SiloName => silo.SiloAddress.ToParsableString();

    private WatchdogOptions Watch => watchdogOptions.Value;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _life = NewLifecycle();
        var live = new LiveJobEvents(events, JobId, time);
        live.Update(state.State);
        _runs = new JobRunHost(JobId, handlers, liveness, time, logger) { Live = live };
        _writer = NewWriter();
        _watchdog = new WatchdogReminder(this, () => state.State, Watch, JobId, logger);
        if (!state.State.Exists)
        {
            EnableFlush();
            return;
        }

        _saved = JobViews.Snapshot(JobId, state.State, null, null);
        if (state.State.Outbox.Count > 0)
        {
            _writer.Project();
        }

        // An activation whose write fails is abandoned: it must leave no run behind (a run of an epoch that
        // was never stored would share it with the next activation's).
        await ApplyAsync(_life.Activated(), carryWhenNotStored: false);
        EnableFlush();
    }

    /// <summary>
    /// The activation goes away while the job still runs or waits. A running job stops at its next item
    /// boundary, saves that checkpoint and stays Running: on silo shutdown the survivors' recovery sweep
    /// continues it at once. Any other deactivation happens on a live silo, which no sweep looks at, so
    /// the job wakes itself in a new activation (<see cref="SelfWake"/>).
    /// </summary>
    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _deactivating = true;
        _writer.RegisterTimer = null;
        _watchdog.Stop();
        if (!state.State.Exists)
        {
            return;
        }

        var shuttingDown = reason.ReasonCode == DeactivationReasonCode.ShuttingDown;
        if (_runs.Current is not null)
        {
            var (run, stopped) = await _runs.HandOverAsync(Watch.HandoffTimeout, cancellationToken);
            var cause = shuttingDown ? "silo shutting down" : $"activation deactivated ({reason.ReasonCode})";
            try
            {
                await ApplyAsync(_life.HandOver(cause, stopped, Watch.HandoffTimeout, run.Current(), run.Progress.Snapshot(), run.Messages));
                LogHandedOver(logger, JobId, state.State.Checkpoint.Processed, cause);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // The previous checkpoint stands; recovery resumes from there.
                LogHandoffNotSaved(logger, ex, JobId);
            }
        }

        // A job that only waits for a resource needs no activation: the resource calls it when it is its turn.
        var needsActivation = JobLifecycle.IsRunning(state.State.Status) || state.State.RetryAt is not null || state.State.Held.Count > 0;
        if (!shuttingDown && state.State.WatchedBy is not null && needsActivation)
        {
            SelfWake.Start(GrainFactory, JobId, $"activation on {SiloName} deactivated ({reason.ReasonCode})", logger);
        }
    }

    async Task<JobSubmitResult> IJobGrain.SubmitAsync(JobSubmission submission)
    {
        var check = JobSubmissionCheck.Check(submission, handlers, time.GetUtcNow());
        if (state.State.Exists)
        {
            var outcome = string.Equals(state.State.RequestFingerprint, check.Fingerprint, StringComparison.Ordinal)
                ? JobSubmitOutcome.Existing : JobSubmitOutcome.KeyConflict;
            return new JobSubmitResult(outcome, Live(), []);
        }

        if (check.Errors.Count > 0 || check.Registration is not { } registration)
        {
            return new JobSubmitResult(JobSubmitOutcome.Invalid, null, check.Errors);
        }

        if (submission.Library is { } library && await GrainFactory.Reference<ILibraryGrain>(library).GetAsync() is null)
        {
            return new JobSubmitResult(JobSubmitOutcome.Invalid, null, [new("library", $"no library '{library}' exists")]);
        }

        if (submission.Device is { } device && registration.Options.DeviceKind is { } kind
            && await GrainFactory.Reference<IDeviceGrain>(device).GetAsync() is var registered && registered?.Kind != kind)
        {
            return new JobSubmitResult(JobSubmitOutcome.Invalid, null, [new("device", registered is null
                ? $"no device '{device}' is registered"
                : $"device '{device}' is a '{registered.Kind}': job type '{submission.Type}' runs on a '{kind}'")]);
        }

        // Only types that have such checks get a second handler instance: submits of the others stay as cheap as they were.
        if (typeof(ISubmissionCheck).IsAssignableFrom(registration.HandlerType) && handlers.Create(registration) is ISubmissionCheck cluster
            && await cluster.CheckAsync(check.Parameters!.Value, submission.Library, GrainFactory) is { Count: > 0 } refused)
        {
            return new JobSubmitResult(JobSubmitOutcome.Invalid, null, refused);
        }

        _runs.Parameters = check.Parameters; // parsed once: the run starts from them
        try
        {
            // Accepted and started in one durable write: the hot path is one commit.
            await ApplyAsync(_life.Submit(submission, registration.Options, check.ParametersJson, check.Fingerprint), carryWhenNotStored: false);
        }
        catch (Exception ex) when (ex is not (OutOfMemoryException or Orleans.Storage.InconsistentStateException))
        {
            // Not stored (the database is away): nothing was created. Forget it here too, so a retry of the
            // same request creates the job instead of finding one that exists only in memory.
            var held = state.State.Held.Select(ResourceKey.Parse).ToList();
            _writer.Discard();
            _life = NewLifecycle();
            foreach (var key in held)
            {
                await ReleaseQuietlyAsync(key);
            }

            throw;
        }

        return new JobSubmitResult(JobSubmitOutcome.Created, _saved, []);
    }

    Task<JobSnapshot?> IJobGrain.GetAsync() => Task.FromResult(Live());

    async Task<JobControlResult> IJobGrain.ControlAsync(JobControl control)
    {
        var (kind, decision) = _life.Control(control);
        if (kind == JobActionKind.Transition)
        {
            await ApplyAsync(decision);
        }

        return new JobControlResult(kind, Live());
    }

    async Task<WorkerLease?> IJobGrain.ClaimAsync(string workerId, TimeSpan leaseDuration)
    {
        var (lease, decision) = _life.Claim(workerId, leaseDuration, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16)));
        await ApplyAsync(decision);
        return lease;
    }

    async Task<WorkerReportResult> IJobGrain.ReportAsync(WorkerReport report)
    {
        var (result, decision) = _life.Report(report);
        await ApplyAsync(decision);
        if (result.Outcome == WorkerReportOutcome.Accepted)
        {
            Publish(report);
        }

        return result;
    }

    async Task<bool> IJobRunReports.CheckpointAsync(long epoch, JobCheckpoint checkpoint, JobProgress progress, IReadOnlyList<JobMessage> messages)
    {
        if (!_life.Checkpoint(epoch, checkpoint, progress, messages))
        {
            return false;
        }

        await ApplyAsync(JobDecision.Saved());
        return true;
    }

    Task IJobRunReports.RunEndedAsync(long epoch, JobCheckpoint checkpoint, JobProgress progress, IReadOnlyList<JobMessage> messages, string? failure)
    {
        _runs.Ended(epoch);
        return ApplyAsync(_life.RunEnded(epoch, checkpoint, progress, messages, failure));
    }

    async Task<bool> IResourceHolder.GrantedAsync(ResourceKey key)
    {
        if (_life.ClaimOn(key) == ResourceClaim.None)
        {
            return false; // not wanted (any more): the resource frees it itself
        }

        await ApplyAsync(_life.Granted(key));
        return true;
    }

    Task<ResourceClaim> IResourceHolder.ClaimOnAsync(ResourceKey key) => Task.FromResult(_life.ClaimOn(key));

    async Task<JobPurgeOutcome> IJobGrain.PurgeAsync(string actor)
    {
        if (!state.State.Exists)
        {
            await purges.DeleteRowsAsync(JobId); // what a purge cut short left behind
            return JobPurgeOutcome.NotFound;
        }

        if (!JobTransitions.IsTerminal(state.State.Status) || _life.HasLiveRun)
        {
            return JobPurgeOutcome.Active;
        }

        // What the index and the journal still wait for goes first: no late projection may bring a row back.
        await projections.WriteAsync(JobViews.IndexRow(JobId, state.State, null), [.. state.State.Outbox]);
        await state.ClearStateAsync();
        state.State = new JobState();
        _saved = null;
        await purges.DeleteRowsAsync(JobId);
        LogPurged(logger, JobId, actor);
        DeactivateOnIdle();
        return JobPurgeOutcome.Purged;
    }

    Task IDeviceHolder.DeviceInterruptedAsync(string deviceId, string cause) => ApplyAsync(_life.DeviceInterrupted(deviceId, cause));

    Task IDeviceHolder.DeviceBackAsync(string deviceId) => ApplyAsync(_life.DeviceBack(deviceId));

    Task<bool> IRecoverableJob.WakeAsync(string reason)
    {
        var recovered = _life.TakeRecovered();
        if (recovered)
        {
            LogWoken(logger, JobId, reason);
        }

        return Task.FromResult(recovered);
    }

    async Task IRemindable.ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != WatchdogReminder.Name)
        {
            return;
        }

        // The reminder may be one a crashed activation registered without recording it: it ticked, so it exists.
        _watchdog.Ticked();
        if (state.State.WatchedBy is null)
        {
            await _watchdog.RemoveAsync();
            return;
        }

        await ApplyAsync(_life.WatchdogTick(_runs.LastProgressAt(), _runs.StartedAt));
    }

    private void Publish(WorkerReport report)
    {
        if (report.Progress is { } progress)
        {
            _runs.Live?.ProgressReported(progress);
        }

        foreach (var message in report.Messages ?? [])
        {
            _runs.Live?.MessageAdded(message);
        }
    }

    private JobLifecycle NewLifecycle() =>
        new(state.State, JobId, SiloName, type => handlers.TryGet(type, out var r) ? r.Options : null, time)
        {
            DefaultStallTimeout = Watch.StallTimeout,
        };

    private JobStateWriter NewWriter()
    {
        // What the state holds already was counted by the activation (or the cluster) that stored it.
        _metrics = new JobCommitMetrics(metrics, time);
        _metrics.Loaded(state.State);
        return new(JobId, state, projections, liveness, SiloName, time, logger)
        {
            Metrics = _metrics,
            MaybeStoredThrough = state.State.JournalSeq,
            IndexRow = () => JobViews.IndexRow(JobId, state.State, _runs.Current),
            Saved = () =>
            {
                _saved = state.State.Exists ? JobViews.Snapshot(JobId, state.State, null, _life.LeaseExpiresAt) : null;
                _runs.Live?.Update(state.State);
            },
            Flushed = AfterSaveAsync,
        };
    }

    /// <summary>The job as last stored, with the live run's progress and messages; null when it does not exist.</summary>
    private JobSnapshot? Live() => _saved switch
    {
        null => null,
        { } saved when _runs.Current is { } run => saved with { Progress = run.Progress.Snapshot(), Messages = run.Messages },
        { Worker: not null } saved => saved with { LeaseExpiresAt = _life.LeaseExpiresAt }, // heartbeats extend it in memory
        { } saved => saved,
    };

    private void EnableFlush() => _writer.RegisterTimer = (callback, due) => this.RegisterGrainTimer(callback, new GrainTimerCreationOptions
    {
        DueTime = due,
        Period = Timeout.InfiniteTimeSpan,
        KeepAlive = true,
    });

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} purged by {Actor}")]
    private static partial void LogPurged(ILogger logger, string jobId, string actor);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: its handoff checkpoint could not be saved; the next activation resumes from the previous one")]
    private static partial void LogHandoffNotSaved(ILogger logger, Exception exception, string jobId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} stopped at its checkpoint ({Processed} items done): {Cause}; another silo, or the next to start, continues it")]
    private static partial void LogHandedOver(ILogger logger, string jobId, long processed, string cause);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} recovered on this silo (woken: {Reason})")]
    private static partial void LogWoken(ILogger logger, string jobId, string reason);
}
