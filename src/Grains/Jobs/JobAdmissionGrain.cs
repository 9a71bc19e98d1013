using Microsoft.Extensions.Logging;
using Npgsql;
using OrleansJobs.Jobs.Handlers;

namespace OrleansJobs.Jobs;

/// <summary>
/// Run slots of one job type. Kept in memory: every call is cheap (this grain is a hotspot
/// every job of the type touches). A new activation (its silo died, or Orleans moved it) first
/// reads the type's running and waiting jobs from the job index, so the limit still holds and
/// no waiting job is forgotten. Holders are re-checked: a holder whose job no longer runs
/// gives its slot back, and a granted job that never started is told again, so a lost message
/// cannot leak a slot.
/// </summary>
public sealed partial class JobAdmissionGrain(
    JobHandlerRegistry registry, NpgsqlDataSource dataSource, ILogger<JobAdmissionGrain> logger) : Grain, IJobAdmissionGrain
{
    private static readonly TimeSpan CheckPeriod = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan FirstCheck = TimeSpan.FromSeconds(5);

    /// <summary>How long the holder check waits for one job's answer (a job on a silo not yet declared dead may not answer).</summary>
    private static readonly TimeSpan HolderProbeTimeout = TimeSpan.FromSeconds(5);

    /// <summary>At most this many holders are asked at once.</summary>
    private const int HolderProbeBatch = 100;

    /// <summary>At most this many waiting jobs are read at once; the rest are read when these have been admitted.</summary>
    internal const int LoadWaitingLimit = 10_000;

    private const string HoldersSql = """
        SELECT job_id FROM job_index WHERE job_type = @type AND status IN ('Running', 'Cancelling')
        """;

    private const string WaitingSql = """
        SELECT job_id, priority, created_at FROM job_index
        WHERE job_type = @type AND status = 'Queued' AND (run_after IS NULL OR run_after <= now())
        ORDER BY priority DESC, created_at, job_id
        LIMIT @limit
        """;

    private bool _moreWaiting; // the last load stopped at the limit

    private readonly Dictionary<string, DateTimeOffset> _holders = new(StringComparer.Ordinal);
    private readonly SortedSet<Waiter> _waiting = new(WaiterOrder.Instance);
    private readonly Dictionary<string, Waiter> _waiters = new(StringComparer.Ordinal);
    private long _arrivals;

    private JobTypeOptions _options = new(); // the type's, read once at activation (the registry is fixed per silo)

    private int Limit => _options.MaxConcurrent;

    // External types: waiters are handed to workers that claim them (ClaimNextAsync), never granted or started here.
    private bool External => _options.External;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (registry.TryGet(this.GetPrimaryKeyString(), out var registration))
        {
            _options = registration.Options;
        }

        // The first check comes soon: holders taken over from the index are verified then (the index may
        // still show Running a job that has ended, whose slot would otherwise stay taken for a minute).
        // The check interleaves with requests: while it waits for the jobs' answers (seconds, when a
        // job's silo has just died), submits and releases of the type must not wait behind it.
        this.RegisterGrainTimer(CheckHoldersAsync, new GrainTimerCreationOptions { DueTime = FirstCheck, Period = CheckPeriod, Interleave = true, KeepAlive = false });
        await LoadAsync(holders: true, cancellationToken);
    }

    /// <summary>
    /// Takes over the type's running jobs as holders and its waiting jobs as waiters, from the job
    /// index. Entries the index shows wrongly are harmless: a job told it was admitted that no
    /// longer waits gives the slot back, and the holder check frees the slot of a job that ended.
    /// Should the database not answer, the grain starts empty: waiting jobs ask again on their own.
    /// </summary>
    private async Task LoadAsync(bool holders, CancellationToken cancellationToken)
    {
        var type = this.GetPrimaryKeyString();
        try
        {
            if (holders)
            {
                await using var command = dataSource.CreateCommand(HoldersSql);
                command.Parameters.AddWithValue("type", type);
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    _holders.TryAdd(reader.GetString(0), DateTimeOffset.MinValue); // due for the first check
                }
            }

            var loaded = 0;
            await using (var command = dataSource.CreateCommand(WaitingSql))
            {
                command.Parameters.AddWithValue("type", type);
                command.Parameters.AddWithValue("limit", LoadWaitingLimit);
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    loaded++;
                    Enqueue(reader.GetString(0), reader.GetInt32(1), reader.GetFieldValue<DateTimeOffset>(2));
                }
            }

            _moreWaiting = loaded == LoadWaitingLimit;
            if (_holders.Count + _waiting.Count > 0)
            {
                LogLoaded(logger, type, _holders.Count, _waiting.Count);
            }
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            LogLoadFailed(logger, ex, type);
        }

        Admit(except: null);
    }

    private void Enqueue(string jobId, int priority, DateTimeOffset queuedAt)
    {
        if (!_holders.ContainsKey(jobId) && !_waiters.ContainsKey(jobId))
        {
            var waiter = new Waiter(jobId, priority, queuedAt, ++_arrivals);
            _waiting.Add(waiter);
            _waiters[jobId] = waiter;
        }
    }

    Task<AdmissionTicket> IJobAdmissionGrain.RequestAsync(string jobId, int priority, DateTimeOffset queuedAt)
    {
        Enqueue(jobId, priority, queuedAt);
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

    Task<string?> IJobAdmissionGrain.ClaimNextAsync()
    {
        if (!External || _holders.Count >= Limit || _waiting.Count == 0)
        {
            return Task.FromResult<string?>(null);
        }

        var next = _waiting.Min!;
        _waiting.Remove(next);
        _waiters.Remove(next.JobId);
        _holders[next.JobId] = DateTimeOffset.UtcNow;
        return Task.FromResult<string?>(next.JobId);
    }

    Task<AdmissionTicket> IJobAdmissionGrain.GetStatsAsync() => Task.FromResult(new AdmissionTicket(false, _holders.Count, Limit, _waiting.Count));

    private void Admit(string? except)
    {
        if (External)
        {
            return; // workers take them
        }

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
        // A holder of an external type is a job being handed to a worker: only the worker's claim starts it.
        if (_holders.ContainsKey(jobId) && !External)
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
        var now = DateTimeOffset.UtcNow;
        var due = _holders.Where(h => now - h.Value > CheckPeriod).ToList();
        foreach (var batch in due.Chunk(HolderProbeBatch))
        {
            var answers = await Task.WhenAll(batch.Select(h => AskAsync(h.Key, cancellationToken)));
            for (var i = 0; i < batch.Length; i++)
            {
                var (jobId, since) = (batch[i].Key, batch[i].Value);
                // Requests and releases were served while the jobs were asked: act only on a holder
                // that nobody has released or admitted again since the check began.
                if (answers[i] is not { } answer || !_holders.TryGetValue(jobId, out var current) || current != since)
                {
                    continue; // no answer: ask again next time
                }

                switch (answer.Job?.Status)
                {
                    case JobStatus.Running or JobStatus.Cancelling or JobStatus.Paused:
                        _holders[jobId] = DateTimeOffset.UtcNow; // alive (a paused run may still be draining)
                        break;
                    case JobStatus.Queued when External:
                        // Handed to a worker whose claim never reached the job: back in the queue.
                        _holders.Remove(jobId);
                        Enqueue(jobId, answer.Job.Priority, answer.Job.CreatedAt);
                        break;
                    case JobStatus.Queued:
                        Tell(jobId); // granted but never started: the message was lost
                        break;
                    default:
                        _holders.Remove(jobId); // gone or finished without giving the slot back
                        break;
                }
            }
        }

        if (_moreWaiting && _waiting.Count == 0)
        {
            // The queue was read up to its limit and has drained: read the next part.
            await LoadAsync(holders: false, cancellationToken);
            return;
        }

        Admit(except: null);
    }

    /// <summary>The job's snapshot (null: no such job), or null when it did not answer in time.</summary>
    private async Task<HolderAnswer?> AskAsync(string jobId, CancellationToken cancellationToken)
    {
        try
        {
            return new HolderAnswer(await GrainFactory.GetGrain<IJobGrain>(jobId).GetAsync().WaitAsync(HolderProbeTimeout, cancellationToken));
        }
        catch (Exception ex) when (ex is TimeoutException or OrleansException)
        {
            return null;
        }
    }

    private sealed record HolderAnswer(JobSnapshot? Job);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run slots of type {Type} taken over from the job index: {Holders} running, {Waiting} waiting")]
    private static partial void LogLoaded(ILogger logger, string type, int holders, int waiting);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run slots of type {Type}: the job index could not be read; starting empty, waiting jobs ask again on their own")]
    private static partial void LogLoadFailed(ILogger logger, Exception exception, string type);

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
