using Microsoft.Extensions.Logging;
using Npgsql;
using OrleansJobs.Hosting;

namespace OrleansJobs.Jobs.Resources;

/// <summary>
/// Where a resource learns its holders and waiters after losing its activation: SQL over the job
/// index. <see cref="HoldersSql"/> selects <c>job_id</c> of the jobs that hold it;
/// <see cref="WaitingSql"/> selects <c>job_id, priority, created_at</c> of the jobs that wait for
/// it, in order, with a <c>@limit</c>; both take <see cref="Parameter"/> as <c>@key</c>.
/// </summary>
public sealed record ResourceSource(string HoldersSql, string WaitingSql, string Parameter);

/// <summary>
/// The part of the lease protocol every resource grain shares: its holders and waiters in memory
/// (<see cref="ResourceLeases"/>), kept in step with its jobs through one channel. It tells a
/// waiter it was granted, asks a holder it has not heard from whether it still holds, and reads the
/// jobs the job index shows holding or waiting when its grain activates and at every check, so a
/// new activation (its silo died) keeps the limit and forgets no waiting job. Jobs never re-ask.
/// Used from its grain's turns only.
/// </summary>
public sealed partial class ResourceArbiter(
    ResourceKey key, ResourceSource source, IGrainFactory grains, NpgsqlDataSource dataSource, TimeProvider time, ILogger logger)
{
    /// <summary>How often holders not heard from are asked.</summary>
    public static readonly TimeSpan CheckPeriod = TimeSpan.FromSeconds(30);

    /// <summary>The first check after activation, when holders taken over from the index are verified.</summary>
    public static readonly TimeSpan FirstCheck = TimeSpan.FromSeconds(5);

    /// <summary>How long the holder check waits for one job's answer (a job on a silo not yet declared dead may not answer).</summary>
    private static readonly TimeSpan HolderProbeTimeout = TimeSpan.FromSeconds(5);

    /// <summary>How long an audit waits before it asks the jobs that claimed nothing once more.</summary>
    internal static readonly TimeSpan AuditRecheck = TimeSpan.FromSeconds(2);

    /// <summary>At most this many holders are asked at once.</summary>
    private const int HolderProbeBatch = 100;

    /// <summary>At most this many waiting jobs are held in memory from the index; the rest are read when these have been admitted.</summary>
    internal const int LoadWaitingLimit = 10_000;

    private bool _holdersLoaded; // nothing is granted before the holders are known: the limit would not hold

    public ResourceKey Key => key;

    /// <summary>Whether the holders the job index shows have been read (until then, an empty queue proves nothing).</summary>
    public bool HoldersKnown => _holdersLoaded;

    public ResourceLeases Queue { get; } = new();

    /// <summary>Waiters are handed out by <see cref="ResourceLeases.TakeNext"/> (to workers), never granted here.</summary>
    public bool HandOutOnly { get; set; }

    /// <summary>Reads the holders and waiters the job index shows, then grants in order.</summary>
    public async Task ActivateAsync(CancellationToken cancellationToken)
    {
        await LoadAsync(holders: true, cancellationToken);
        Admit(except: null);
    }

    /// <summary>Grants the resource now or queues the job. Idempotent: a holder is granted again, a waiter keeps its place.</summary>
    public ResourceTicket Request(string jobId, int priority, DateTimeOffset queuedAt)
    {
        // A holder asking again still holds (a decline in flight from before must not free it).
        Queue.Confirm(jobId, time.GetUtcNow());
        Queue.Enqueue(jobId, priority, queuedAt);
        // Admit in order; the requester is answered directly, others are told.
        Admit(except: jobId);
        // A holder that waits to be handed out is a job being handed to a worker: only the worker's claim starts it.
        return Queue.Ticket(jobId, grantHolders: !HandOutOnly);
    }

    /// <summary>Gives the job's hold back, or takes it out of the queue. Idempotent.</summary>
    public void Release(string jobId)
    {
        Queue.Remove(jobId);
        Admit(except: null);
    }

    /// <summary>While true, nothing is granted: requests queue (the resource's owner works on what the resource guards).</summary>
    public bool Suspended { get; set; }

    /// <summary>Grants waiters in order while the limit allows, telling each one but <paramref name="except"/>.</summary>
    public void Admit(string? except)
    {
        if (HandOutOnly || !_holdersLoaded || Suspended)
        {
            return; // workers take them; or the holders are not known yet
        }

        foreach (var jobId in Queue.Admit(time.GetUtcNow()))
        {
            if (jobId != except)
            {
                _ = TellAsync(jobId);
            }
        }
    }

    /// <summary>Asks the holders not heard from lately whether they still hold, and reads waiting jobs the index shows.</summary>
    public async Task CheckAsync(CancellationToken cancellationToken)
    {
        if (!_holdersLoaded)
        {
            await LoadAsync(holders: true, cancellationToken);
        }

        foreach (var batch in Queue.HoldersDue(time.GetUtcNow(), CheckPeriod).Chunk(HolderProbeBatch))
        {
            var answers = await Task.WhenAll(batch.Select(h => AskAsync(h.JobId, cancellationToken)));
            for (var i = 0; i < batch.Length; i++)
            {
                var (jobId, stamp) = batch[i];
                // Requests and releases were served while the jobs were asked: act only on a holder
                // that nobody has released or admitted again since the check began.
                if (answers[i] is not { } claim || !Queue.HeldSince(jobId, stamp))
                {
                    continue; // no answer: ask again next time
                }

                switch (claim)
                {
                    case ResourceClaim.Holds:
                        Queue.Confirm(jobId, time.GetUtcNow());
                        break;
                    case ResourceClaim.Waits when HandOutOnly:
                        // Handed to a worker whose claim never reached the job: back in the queue.
                        Queue.Requeue(jobId, time.GetUtcNow());
                        break;
                    case ResourceClaim.Waits:
                        Queue.Confirm(jobId, time.GetUtcNow());
                        _ = TellAsync(jobId); // granted, but the message was lost
                        break;
                    default:
                        Queue.Remove(jobId); // finished, paused or gone without giving it back
                        break;
                }
            }
        }

        if (Queue.WaitingCount < LoadWaitingLimit)
        {
            // Waiting jobs this activation never heard of: its queue was lost with a silo, or a request failed.
            await LoadAsync(holders: false, cancellationToken);
        }

        Admit(except: null);
    }

    /// <summary>
    /// Asks every holder, and every waiter the job index no longer shows waiting for it, whether it still
    /// holds or awaits the resource: a holder that claims nothing is released, a waiter that does not wait
    /// leaves the queue (dry: only reported). Those that claim nothing are asked once more a moment later
    /// (a job that has just ended answers before its release arrives), and an entry that changed meanwhile
    /// (granted, confirmed, or asked again) is left alone. The state validator's check of every resource.
    /// </summary>
    public async Task<ResourceAudit> AuditAsync(bool dryRun, CancellationToken cancellationToken)
    {
        if (!_holdersLoaded)
        {
            await LoadAsync(holders: true, cancellationToken);
        }

        var (holders, waiting) = Queue.Snapshot();
        // Waiting jobs the index shows waiting are left unasked: asking would activate every one of them.
        var indexed = await IndexWaitingAsync(cancellationToken);
        waiting = [.. waiting.Where(w => indexed is null || !indexed.Contains(w.JobId))];
        var released = await NotClaimingAsync(holders, cancellationToken);
        var removed = await NotClaimingAsync(waiting, cancellationToken);
        if (released.Count + removed.Count > 0)
        {
            await Task.Delay(AuditRecheck, time, cancellationToken);
            released = await NotClaimingAsync(released, cancellationToken);
            removed = await NotClaimingAsync(removed, cancellationToken);
        }

        // One synchronous pass: only what is unchanged since the snapshot goes.
        var stale = released.Where(h => Queue.HeldSince(h.JobId, h.Since)).Select(h => h.JobId).ToList();
        var gone = removed.Where(w => Queue.WaitsSince(w.JobId, w.Since)).Select(w => w.JobId).ToList();
        if (!dryRun && stale.Count + gone.Count > 0)
        {
            foreach (var jobId in stale.Concat(gone))
            {
                Queue.Remove(jobId);
            }

            LogAudited(logger, key.ToString(), stale.Count, gone.Count);
            Admit(except: null);
        }

        return new ResourceAudit(key.ToString(), stale, gone);
    }

    /// <summary>The entries whose job neither holds nor awaits this resource (jobs that do not answer in time are left out).</summary>
    private async Task<List<(string JobId, long Since)>> NotClaimingAsync(IReadOnlyList<(string JobId, long Since)> entries, CancellationToken cancellationToken)
    {
        var found = new List<(string, long)>();
        foreach (var batch in entries.Chunk(HolderProbeBatch))
        {
            var answers = await Task.WhenAll(batch.Select(e => AskAsync(e.JobId, cancellationToken)));
            found.AddRange(batch.Where((_, i) => answers[i] == ResourceClaim.None));
        }

        return found;
    }

    /// <summary>The jobs the index shows waiting for this resource; null when the index cannot be read (every waiter is asked then).</summary>
    private async Task<HashSet<string>?> IndexWaitingAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var command = dataSource.CreateCommand(source.WaitingSql);
            command.Parameters.AddWithValue("key", source.Parameter);
            command.Parameters.AddWithValue("limit", int.MaxValue);
            var ids = new HashSet<string>(StringComparer.Ordinal);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                ids.Add(reader.GetString(0));
            }

            return ids;
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            LogLoadFailed(logger, ex, key.ToString());
            return null;
        }
    }

    /// <summary>
    /// Takes over the jobs the index shows holding (<paramref name="holders"/>) as holders and those it
    /// shows waiting as waiters. Entries the index shows wrongly are harmless: a job granted what it no
    /// longer waits for declines it, and the holder check frees what a job that ended held. Should the
    /// database not answer, the next check reads again; nothing is granted until the holders have been read.
    /// </summary>
    private async Task LoadAsync(bool holders, CancellationToken cancellationToken)
    {
        try
        {
            if (holders)
            {
                await using var command = dataSource.CreateCommand(source.HoldersSql);
                command.Parameters.AddWithValue("key", source.Parameter);
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    Queue.AddHolder(reader.GetString(0));
                }

                _holdersLoaded = true;
            }

            var known = Queue.HolderCount + Queue.WaitingCount;
            await using (var command = dataSource.CreateCommand(source.WaitingSql))
            {
                command.Parameters.AddWithValue("key", source.Parameter);
                command.Parameters.AddWithValue("limit", LoadWaitingLimit - Queue.WaitingCount);
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                while (await reader.ReadAsync(cancellationToken))
                {
                    Queue.Enqueue(reader.GetString(0), reader.GetInt32(1), reader.GetFieldValue<DateTimeOffset>(2));
                }
            }

            var found = Queue.HolderCount + Queue.WaitingCount - known;
            if (holders && Queue.HolderCount + Queue.WaitingCount > 0 || found > 0)
            {
                LogLoaded(logger, key.ToString(), Queue.HolderCount, Queue.WaitingCount, found);
            }
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            LogLoadFailed(logger, ex, key.ToString());
        }
    }

    private async Task TellAsync(string jobId)
    {
        var stamp = Queue.StampOf(jobId);
        try
        {
            if (!await grains.Reference<IResourceHolder>(jobId).GrantedAsync(key) && Queue.HeldSince(jobId, stamp))
            {
                // It no longer waits (cancelled, paused, or the index showed it wrongly): the next one's turn.
                Queue.Remove(jobId);
                Admit(except: null);
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The holder check asks it again.
            LogTellFailed(logger, ex, jobId, key.ToString());
        }
    }

    /// <summary>The job's claim on this resource, or null when it did not answer in time.</summary>
    private async Task<ResourceClaim?> AskAsync(string jobId, CancellationToken cancellationToken)
    {
        try
        {
            return await grains.Reference<IResourceHolder>(jobId).ClaimOnAsync(key).WaitAsync(HolderProbeTimeout, cancellationToken);
        }
        catch (Exception ex) when (ex is TimeoutException or OrleansException)
        {
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Resource}: the audit released {Released} holder(s) that had ended or never existed and removed {Removed} waiter(s) that no longer waited")]
    private static partial void LogAudited(ILogger logger, string resource, int released, int removed);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Resource} read from the job index: {Holders} holding, {Waiting} waiting ({Found} not known before)")]
    private static partial void LogLoaded(ILogger logger, string resource, int holders, int waiting, int found);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Resource}: the job index could not be read; the next check reads it again")]
    private static partial void LogLoadFailed(ILogger logger, Exception exception, string resource);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not tell job {JobId} it was granted {Resource}; the holder check asks it again")]
    private static partial void LogTellFailed(ILogger logger, Exception exception, string jobId, string resource);
}
