using Microsoft.Extensions.Logging;
using OrleansJobs.Jobs.Handlers;

namespace OrleansJobs.Jobs;

/// <summary>
/// Run slots of one job type. Kept in memory: every call is cheap (this grain is a hotspot
/// every job of the type touches). Holders are re-checked: a holder whose job no longer runs
/// gives its slot back, and a granted job that never started is told again, so a lost message
/// cannot leak a slot.
/// </summary>
public sealed partial class JobAdmissionGrain(JobHandlerRegistry registry, ILogger<JobAdmissionGrain> logger) : Grain, IJobAdmissionGrain
{
    private static readonly TimeSpan CheckPeriod = TimeSpan.FromSeconds(30);

    private readonly Dictionary<string, DateTimeOffset> _holders = new(StringComparer.Ordinal);
    private readonly SortedSet<Waiter> _waiting = new(WaiterOrder.Instance);
    private readonly Dictionary<string, Waiter> _waiters = new(StringComparer.Ordinal);
    private long _arrivals;

    private int Limit => registry.TryGet(this.GetPrimaryKeyString(), out var registration) ? registration.Options.MaxConcurrent : new JobTypeOptions().MaxConcurrent;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        this.RegisterGrainTimer(CheckHoldersAsync, new GrainTimerCreationOptions { DueTime = CheckPeriod, Period = CheckPeriod, Interleave = false, KeepAlive = false });
        return Task.CompletedTask;
    }

    Task<AdmissionTicket> IJobAdmissionGrain.RequestAsync(string jobId, int priority, DateTimeOffset queuedAt)
    {
        if (!_holders.ContainsKey(jobId) && !_waiters.ContainsKey(jobId))
        {
            var waiter = new Waiter(jobId, priority, queuedAt, ++_arrivals);
            _waiting.Add(waiter);
            _waiters[jobId] = waiter;
        }

        // Admit in order; the requester is answered directly, others are told.
        Admit(except: jobId);
        return Task.FromResult(Ticket(jobId));
    }

    Task IJobAdmissionGrain.ReleaseAsync(string jobId)
    {
        if (!_holders.Remove(jobId) && _waiters.Remove(jobId, out var waiter))
        {
            _waiting.Remove(waiter);
        }

        Admit(except: null);
        return Task.CompletedTask;
    }

    Task<AdmissionTicket> IJobAdmissionGrain.GetStatsAsync() => Task.FromResult(new AdmissionTicket(false, _holders.Count, Limit, _waiting.Count));

    private void Admit(string? except)
    {
        while (_holders.Count < Limit && _waiting.Count > 0)
        {
            var next = _waiting.Min!;
            _waiting.Remove(next);
            _waiters.Remove(next.JobId);
            _holders[next.JobId] = DateTimeOffset.UtcNow;
            if (next.JobId != except)
            {
                Tell(next.JobId);
            }
        }
    }

    private void Tell(string jobId) => _ = TellAsync(GrainFactory.GetGrain<IJobRun>(jobId), jobId);

    private async Task TellAsync(IJobRun job, string jobId)
    {
        try
        {
            await job.AdmittedAsync();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The holder check below tells it again or takes the slot back.
            LogTellFailed(logger, ex, jobId);
        }
    }

    private AdmissionTicket Ticket(string jobId)
    {
        if (_holders.ContainsKey(jobId))
        {
            return new AdmissionTicket(true, _holders.Count, Limit, 0);
        }

        var position = 1;
        foreach (var waiter in _waiting)
        {
            if (waiter.JobId == jobId)
            {
                break;
            }

            position++;
        }

        return new AdmissionTicket(false, _holders.Count, Limit, position);
    }

    private async Task CheckHoldersAsync(CancellationToken cancellationToken)
    {
        var due = _holders.Where(h => DateTimeOffset.UtcNow - h.Value > CheckPeriod).Select(h => h.Key).ToList();
        foreach (var jobId in due)
        {
            JobSnapshot? job;
            try
            {
                job = await GrainFactory.GetGrain<IJobGrain>(jobId).GetAsync().WaitAsync(TimeSpan.FromSeconds(5), cancellationToken);
            }
            catch (Exception ex) when (ex is TimeoutException or OrleansException)
            {
                continue; // unknown: ask again next time
            }

            switch (job?.Status)
            {
                case JobStatus.Running or JobStatus.Cancelling or JobStatus.Paused:
                    _holders[jobId] = DateTimeOffset.UtcNow; // alive (a paused run may still be draining)
                    break;
                case JobStatus.Queued:
                    Tell(jobId); // granted but never started: the message was lost
                    break;
                default:
                    _holders.Remove(jobId); // gone or finished without giving the slot back
                    break;
            }
        }

        Admit(except: null);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not tell job {JobId} it was admitted; the holder check retries")]
    private static partial void LogTellFailed(ILogger logger, Exception exception, string jobId);

    private sealed record Waiter(string JobId, int Priority, DateTimeOffset QueuedAt, long Arrival);

    private sealed class WaiterOrder : IComparer<Waiter>
    {
        public static readonly WaiterOrder Instance = new();

        public int Compare(Waiter? x, Waiter? y)
        {
            if (ReferenceEquals(x, y))
            {
                return 0;
            }

            if (x is null || y is null)
            {
                return x is null ? -1 : 1;
            }

            var byPriority = y.Priority.CompareTo(x.Priority);
            if (byPriority != 0)
            {
                return byPriority;
            }

            var byTime = x.QueuedAt.CompareTo(y.QueuedAt);
            return byTime != 0 ? byTime : x.Arrival.CompareTo(y.Arrival);
        }
    }
}
