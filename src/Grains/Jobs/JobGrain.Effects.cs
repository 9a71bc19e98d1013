using System.Runtime.ExceptionServices;
using Microsoft.Extensions.Logging;
using OrleansJobs.Devices;
using OrleansJobs.Hosting;
using OrleansJobs.Jobs.Lifecycle;
using OrleansJobs.Jobs.Resources;
using OrleansJobs.Jobs.Runs;
using OrleansJobs.Libraries;

namespace OrleansJobs.Jobs;

/// <summary>Carrying out the lifecycle's decisions.</summary>
public sealed partial class JobGrain
{
    /// <summary>
    /// Asks for and gives back resources in the order decided (each answer goes back to the lifecycle
    /// and may decide more), stores the state once if anything changed, then starts or stops runs and
    /// sets timers. A failed write throws: the caller learns the change is not durable (the writer
    /// keeps trying to store it); the rest of the decision is carried out all the same, unless
    /// <paramref name="carryWhenNotStored"/> is false (a submit that is not stored creates nothing).
    /// </summary>
    private async Task ApplyAsync(JobDecision decision, bool carryWhenNotStored = true)
    {
        var save = decision.Save;
        var pending = new Queue<JobEffect>(decision.Effects);
        var afterSave = new List<JobEffect>();
        var releases = new List<Task>();
        while (pending.TryDequeue(out var effect))
        {
            switch (effect)
            {
                case AcquireResource acquire:
                    _metrics.Asked(acquire.Key);
                    var answered = await RequestAsync(acquire.Key);
                    save |= answered.Save;
                    foreach (var next in answered.Effects)
                    {
                        pending.Enqueue(next);
                    }

                    break;
                case ReleaseResource release when pending.Any(e => e is AcquireResource again && again.Key == release.Key):
                    // Back into the queue: out of the holders first.
                    await ReleaseQuietlyAsync(release.Key);
                    break;
                case ReleaseResource release:
                    // Sent alongside the write, so the next job need not wait for this one's commit; awaited
                    // after it, quietly: the job's own state never waits for a resource whose silo just died.
                    releases.Add(ReleaseQuietlyAsync(release.Key));
                    break;
                case StopRun stop:
                    // Before the write: a hard-stopped run is fenced out already, and must stop at once.
                    await _runs.StopAsync(stop.Hard);
                    break;
                default:
                    afterSave.Add(effect);
                    break;
            }
        }

        _metrics.Holding(state.State.Held);
        Exception? notStored = null;
        if (save)
        {
            try
            {
                await _writer.SaveAsync();
            }
            catch (Exception ex) when (ex is not (OutOfMemoryException or Orleans.Storage.InconsistentStateException))
            {
                // The database is away: the writer keeps trying to store the state. The decision stands
                // (a run started goes on, its checkpoints retried), and the caller learns it is not durable yet.
                notStored = ex;
            }
        }

        foreach (var effect in notStored is null || carryWhenNotStored ? afterSave : [])
        {
            Carry(effect);
        }

        await Task.WhenAll(releases);

        if (notStored is not null)
        {
            ExceptionDispatchInfo.Throw(notStored);
        }

        if (save && !_deactivating)
        {
            await AfterSaveAsync();
        }
    }

    private void Carry(JobEffect effect)
    {
        switch (effect)
        {
            case StartRun start when !_deactivating:
                _runs.Launch(state.State, start.Epoch, this.AsReference<IJobRunReports>());
                // Checkpoints and the end of the run are calls, which count as activity, but an item may
                // take longer than the idle collection age: keep the activation while its run lives.
                DelayDeactivation(TimeSpan.FromDays(365));
                break;
            case ScheduleWake wake:
                ScheduleWake(wake.At);
                break;
            case CancelWake:
                DropWake();
                break;
            case WatchLease lease:
                WatchLease(lease.At);
                break;
            case WatchLockWait lockWait:
                WatchLockWait(lockWait.At);
                break;
            case ForgetLease:
                _leaseTimer?.Dispose();
                _leaseTimer = null;
                break;
        }
    }

    private async Task AfterSaveAsync()
    {
        if (_deactivating)
        {
            return;
        }

        if (_runs.Current is null && _wakeTimer is null)
        {
            DelayDeactivation(TimeSpan.Zero); // no run or wake-up to keep it for any more
        }

        await _watchdog.SyncAsync(_deactivating, _life.HasLiveRun);
        if (JobTransitions.IsTerminal(state.State.Status) && _runs.Current is null)
        {
            // A finished job is read rarely: free its memory now instead of after the idle collection age
            // (at thousands of jobs per second that would be millions of activations). A read activates it again.
            DeactivateOnIdle();
        }
    }

    private IResourceGrain Resource(ResourceKey key) => key.Kind switch
    {
        ResourceKey.RunSlotKind => GrainFactory.Reference<IRunSlotsGrain>(key.Id),
        ResourceKey.LibraryKind => GrainFactory.Reference<ILibraryLockGrain>(key.Id),
        ResourceKey.DeviceKind => GrainFactory.Reference<IDeviceOwnershipGrain>(key.Id),
        ResourceKey.DevicePoolKind => GrainFactory.Reference<IDevicePoolGrain>(key.Id),
        _ => throw new InvalidOperationException($"job {JobId}: unknown resource kind '{key.Kind}'"),
    };

    /// <summary>Asks for a resource; a resource that does not answer leaves the job waiting (it finds the job in the index).</summary>
    private async Task<JobDecision> RequestAsync(ResourceKey key)
    {
        try
        {
            var ticket = await Resource(key).RequestAsync(JobId, state.State.Priority, time.GetUtcNow());
            return _life.ResourceAnswered(key, ticket);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogResourceUnanswered(logger, ex, JobId, key.ToString());
            return _life.ResourceUnanswered(key, ex.GetType().Name);
        }
    }

    private async Task ReleaseQuietlyAsync(ResourceKey key)
    {
        try
        {
            await Resource(key).ReleaseAsync(JobId);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The resource's holder check frees what a job no longer claims.
            LogReleaseFailed(logger, JobId, key.ToString(), ex.GetType().Name);
        }
    }

    /// <summary>The longest a wake-up timer is set for (timers take at most 2^32 - 2 ms).</summary>
    private static readonly TimeSpan MaxTimerWait = TimeSpan.FromDays(1);

    private void ScheduleWake(DateTimeOffset at)
    {
        DropWake();
        var due = at - time.GetUtcNow();
        // The timer lives in this activation: keep it until then (idle collection would drop it).
        DelayDeactivation(due > TimeSpan.Zero ? due + TimeSpan.FromMinutes(1) : TimeSpan.FromMinutes(1));
        _wakeTimer = this.RegisterGrainTimer(_ => WakeDueAsync(), new GrainTimerCreationOptions
        {
            // A timer waits at most about 49 days; a later start (runAfter may be up to a year ahead) is re-armed when it fires early.
            DueTime = due < TimeSpan.Zero ? TimeSpan.Zero : due > MaxTimerWait ? MaxTimerWait : due,
            Period = Timeout.InfiniteTimeSpan,
            KeepAlive = true,
        });
    }

    private Task WakeDueAsync()
    {
        DropWake();
        return ApplyAsync(_life.WakeDue());
    }

    private void DropWake()
    {
        _wakeTimer?.Dispose();
        _wakeTimer = null;
    }

    private void WatchLease(DateTimeOffset at)
    {
        _leaseTimer?.Dispose();
        _leaseTimer = null;
        if (_deactivating)
        {
            return;
        }

        var due = at - time.GetUtcNow();
        _leaseTimer = this.RegisterGrainTimer(_ => ApplyAsync(_life.LeaseCheck()), new GrainTimerCreationOptions
        {
            DueTime = due > TimeSpan.Zero ? due : TimeSpan.Zero,
            Period = Timeout.InfiniteTimeSpan,
            KeepAlive = true,
        });
    }

    private void WatchLockWait(DateTimeOffset at)
    {
        _lockWaitTimer?.Dispose();
        var due = at - time.GetUtcNow();
        // Kept until then: idle collection would drop the timer (a new activation sets it again from the state).
        DelayDeactivation(due > TimeSpan.Zero ? due + TimeSpan.FromMinutes(1) : TimeSpan.FromMinutes(1));
        _lockWaitTimer = this.RegisterGrainTimer(_ => ApplyAsync(_life.LockWaitDue()), new GrainTimerCreationOptions
        {
            DueTime = due > TimeSpan.Zero ? due : TimeSpan.Zero,
            Period = Timeout.InfiniteTimeSpan,
            KeepAlive = true,
        });
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: {Resource} did not answer its request; the job waits, and the resource finds it in the job index")]
    private static partial void LogResourceUnanswered(ILogger logger, Exception exception, string jobId, string resource);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: giving {Resource} back failed ({Error}); the resource's holder check frees it")]
    private static partial void LogReleaseFailed(ILogger logger, string jobId, string resource, string error);
}
