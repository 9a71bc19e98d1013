using Microsoft.Extensions.Logging;
using Npgsql;
using OrleansJobs.Jobs.Handlers;

namespace OrleansJobs.Jobs.Resources;

/// <summary>
/// Run slots of one job type, kept in memory (every job of the type calls here: each call stays
/// cheap). It keeps itself in step with its jobs through one channel: it tells a waiter it was
/// granted, asks a holder it has not heard from whether it still holds, and reads the type's
/// running and waiting jobs from the job index when it activates and at every check, so a new
/// activation (its silo died) keeps the limit and forgets no waiting job. Jobs never re-ask.
/// </summary>
public sealed partial class RunSlotsGrain(
    JobHandlerRegistry registry, NpgsqlDataSource dataSource, TimeProvider time, ILogger<RunSlotsGrain> logger) : Grain, IRunSlotsGrain
{
    private static readonly TimeSpan CheckPeriod = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan FirstCheck = TimeSpan.FromSeconds(5);

    /// <summary>How long the holder check waits for one job's answer (a job on a silo not yet declared dead may not answer).</summary>
    private static readonly TimeSpan HolderProbeTimeout = TimeSpan.FromSeconds(5);

    /// <summary>At most this many holders are asked at once.</summary>
    private const int HolderProbeBatch = 100;

    /// <summary>At most this many waiting jobs are held in memory from the index; the rest are read when these have been admitted.</summary>
    internal const int LoadWaitingLimit = 10_000;

    private const string HoldersSql = $"""
        SELECT job_id FROM job_index WHERE job_type = @type AND status IN ({JobStatusSql.Running})
        """;

    private const string WaitingSql = """
        SELECT job_id, priority, created_at FROM job_index
        WHERE job_type = @type AND status = 'Queued' AND (run_after IS NULL OR run_after <= now())
        ORDER BY priority DESC, created_at, job_id
        LIMIT @limit
        """;

    private readonly ResourceLeases _queue = new();
    private bool _holdersLoaded; // nothing is granted before the running jobs are known: the limit would not hold
    private JobTypeOptions _options = new(); // the type's, read once at activation (the registry is fixed per silo)

    private ResourceKey Key => ResourceKey.RunSlot(this.GetPrimaryKeyString());

    // External types: waiters are handed to workers that claim them (ClaimNextAsync), never granted here.
    private bool External => _options.External;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (registry.TryGet(this.GetPrimaryKeyString(), out var registration))
        {
            _options = registration.Options;
        }

        _queue.Limit = _options.MaxConcurrent;
        // The first check comes soon: holders taken over from the index are verified then (the index may
        // still show Running a job that has ended). The check interleaves with requests: while it waits
        // for the jobs' answers (seconds, when a job's silo has just died), submits and releases of the
        // type must not wait behind it.
        this.RegisterGrainTimer(CheckAsync, new GrainTimerCreationOptions { DueTime = FirstCheck, Period = CheckPeriod, Interleave = true, KeepAlive = false });
        await LoadAsync(holders: true, cancellationToken);
        Admit(except: null);
    }

    Task<ResourceTicket> IResourceGrain.RequestAsync(string jobId, int priority, DateTimeOffset queuedAt)
    {
        // A holder asking again still holds (a decline in flight from before must not free it).
        _queue.Confirm(jobId, time.GetUtcNow());
        _queue.Enqueue(jobId, priority, queuedAt);
        // Admit in order; the requester is answered directly, others are told.
        Admit(except: jobId);
        // A holder of an external type is a job being handed to a worker: only the worker's claim starts it.
        return Task.FromResult(_queue.Ticket(jobId, grantHolders: !External));
    }

    Task IResourceGrain.ReleaseAsync(string jobId)
    {
        _queue.Remove(jobId);
        Admit(except: null);
        return Task.CompletedTask;
    }

    Task<string?> IRunSlotsGrain.ClaimNextAsync() => Task.FromResult(External ? _queue.TakeNext(time.GetUtcNow()) : null);

    Task<ResourceTicket> IResourceGrain.GetStatsAsync() => Task.FromResult(new ResourceTicket(false, _queue.HolderCount, _queue.Limit, _queue.WaitingCount));

    /// <summary>
    /// Takes over the type's running jobs as holders (<paramref name="holders"/>) and its waiting jobs as
    /// waiters, from the job index. Entries the index shows wrongly are harmless: a job granted a slot
    /// it no longer waits for declines it, and the holder check frees the slot of a job that ended.
    /// Should the database not answer, the next check reads again; nothing is granted until the
    /// running jobs have been read.
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
                    _queue.AddHolder(reader.GetString(0));
                }

                _holdersLoaded = true;
            }

            var known = _queue.HolderCount + _queue.WaitingCount;
            await using (var command = dataSource.CreateCommand(WaitingSql))
            {
                command.Parameters.AddWithValue("type", type);
                command.Parameters.AddWithValue("limit", LoadWaitingLimit - _queue.WaitingCount);
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    _queue.Enqueue(reader.GetString(0), reader.GetInt32(1), reader.GetFieldValue<DateTimeOffset>(2));
                }
            }

            var found = _queue.HolderCount + _queue.WaitingCount - known;
            if (holders && _queue.HolderCount + _queue.WaitingCount > 0 || found > 0)
            {
                LogLoaded(logger, type, _queue.HolderCount, _queue.WaitingCount, found);
            }
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            LogLoadFailed(logger, ex, type);
        }
    }

    private void Admit(string? except)
    {
        if (External || !_holdersLoaded)
        {
            return; // workers take them; or the running jobs are not known yet
        }

        foreach (var jobId in _queue.Admit(time.GetUtcNow()))
        {
            if (jobId != except)
            {
                _ = TellAsync(jobId);
            }
        }
    }

    private async Task TellAsync(string jobId)
    {
        var stamp = _queue.StampOf(jobId);
        try
        {
            if (!await GrainFactory.GetGrain<IResourceHolder>(jobId).GrantedAsync(Key) && _queue.HeldSince(jobId, stamp))
            {
                // It no longer waits (cancelled, paused, or the index showed it wrongly): the next one's turn.
                _queue.Remove(jobId);
                Admit(except: null);
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The holder check asks it again.
            LogTellFailed(logger, ex, jobId);
        }
    }

    /// <summary>Asks the holders not heard from lately whether they still hold a slot, and reads waiting jobs the index shows.</summary>
    private async Task CheckAsync(CancellationToken cancellationToken)
    {
        if (!_holdersLoaded)
        {
            await LoadAsync(holders: true, cancellationToken);
        }

        foreach (var batch in _queue.HoldersDue(time.GetUtcNow(), CheckPeriod).Chunk(HolderProbeBatch))
        {
            var answers = await Task.WhenAll(batch.Select(h => AskAsync(h.JobId, cancellationToken)));
            for (var i = 0; i < batch.Length; i++)
            {
                var (jobId, stamp) = batch[i];
                // Requests and releases were served while the jobs were asked: act only on a holder
                // that nobody has released or admitted again since the check began.
                if (answers[i] is not { } claim || !_queue.HeldSince(jobId, stamp))
                {
                    continue; // no answer: ask again next time
                }

                switch (claim)
                {
                    case ResourceClaim.Holds:
                        _queue.Confirm(jobId, time.GetUtcNow());
                        break;
                    case ResourceClaim.Waits when External:
                        // Handed to a worker whose claim never reached the job: back in the queue.
                        _queue.Requeue(jobId, time.GetUtcNow());
                        break;
                    case ResourceClaim.Waits:
                        _queue.Confirm(jobId, time.GetUtcNow());
                        _ = TellAsync(jobId); // granted, but the message was lost
                        break;
                    default:
                        _queue.Remove(jobId); // finished, paused or gone without giving the slot back
                        break;
                }
            }
        }

        if (_queue.WaitingCount < LoadWaitingLimit)
        {
            // Waiting jobs this activation never heard of: its queue was lost with a silo, or a request failed.
            await LoadAsync(holders: false, cancellationToken);
        }

        Admit(except: null);
    }

    /// <summary>The job's claim on this slot, or null when it did not answer in time.</summary>
    private async Task<ResourceClaim?> AskAsync(string jobId, CancellationToken cancellationToken)
    {
        try
        {
            return await GrainFactory.GetGrain<IResourceHolder>(jobId).ClaimOnAsync(Key).WaitAsync(HolderProbeTimeout, cancellationToken);
        }
        catch (Exception ex) when (ex is TimeoutException or OrleansException)
        {
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Run slots of type {Type} read from the job index: {Holders} running, {Waiting} waiting ({Found} not known before)")]
    private static partial void LogLoaded(ILogger logger, string type, int holders, int waiting, int found);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run slots of type {Type}: the job index could not be read; the next check reads it again")]
    private static partial void LogLoadFailed(ILogger logger, Exception exception, string type);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not tell job {JobId} it was granted a slot; the holder check asks it again")]
    private static partial void LogTellFailed(ILogger logger, Exception exception, string jobId);
}
