using Npgsql;
using NpgsqlTypes;

namespace OrleansJobs.Jobs.Projections;

/// <summary>
/// Writes index rows and journal entries of many jobs in two multi-row statements sent in one
/// round trip (one implicit transaction, one commit). Safe to repeat: an index row replaces only
/// an older version, and a journal entry already stored is skipped (looked up first when it may be
/// stored, so that it draws no event id). The journal insert first takes
/// <see cref="EventIdLockKey"/> until the commit, so the event ids it draws are in commit order on
/// every silo (docs/events.md).
/// </summary>
public sealed class ProjectionWriter(NpgsqlDataSource dataSource)
{
    private const string UpsertIndexSql = """
        INSERT INTO job_index (job_id, job_type, status, priority, library_id, device_id, progress, processed, total,
            owner_silo, attempt, recoveries, queued_reason, error, idempotency_key, created_at, run_after, started_at,
            finished_at, last_progress_at, updated_at, state_version, interruption, device_kind)
        SELECT * FROM unnest(@job_id, @job_type, @status, @priority, @library_id, @device_id, @progress, @processed, @total,
            @owner_silo, @attempt, @recoveries, @queued_reason, @error, @idempotency_key, @created_at, @run_after, @started_at,
            @finished_at, @last_progress_at, @updated_at, @state_version, @interruption, @device_kind)
        ON CONFLICT (job_id) DO UPDATE SET
            job_type = excluded.job_type, status = excluded.status, priority = excluded.priority,
            library_id = excluded.library_id, device_id = excluded.device_id, progress = excluded.progress,
            processed = excluded.processed, total = excluded.total, owner_silo = excluded.owner_silo,
            attempt = excluded.attempt, recoveries = excluded.recoveries, queued_reason = excluded.queued_reason,
            error = excluded.error, idempotency_key = excluded.idempotency_key, created_at = excluded.created_at,
            run_after = excluded.run_after, started_at = excluded.started_at, finished_at = excluded.finished_at,
            last_progress_at = excluded.last_progress_at, updated_at = excluded.updated_at,
            state_version = excluded.state_version, interruption = excluded.interruption,
            device_kind = excluded.device_kind
        """;

    private const string NewerOnly = " WHERE job_index.state_version < excluded.state_version";

    private const string ReadIndexSql = "SELECT status, state_version FROM job_index WHERE job_id = @id";

    /// <summary>Transaction-scoped advisory lock held from drawing event ids to the commit ("OJEVENTS" as ASCII).</summary>
    public const long EventIdLockKey = 0x4F4A_4556_454E_5453;

    // Entries that may be stored already (a new activation sends its stored outbox again, a batch is retried after a
    // failure that may have followed its commit) are flagged: those are looked up first and left out when found, so they
    // draw no event id. An id drawn and then skipped by ON CONFLICT is never committed, and every API host would wait
    // Events:GapTimeout for it (docs/events.md). Under the advisory lock no other insert runs, so an entry found absent
    // stays absent until this one. One statement, in the order given: a job's ids follow its seq.
    private const string InsertJournalSql = """
        INSERT INTO job_journal (job_id, seq, at, entry_type, from_status, to_status, reason, actor, silo, data)
        SELECT u.job_id, u.seq, u.at, u.entry_type, u.from_status, u.to_status, u.reason, u.actor, u.silo, u.data
        FROM unnest(@job_id, @seq, @at, @entry_type, @from_status, @to_status, @reason, @actor, @silo, @data, @check)
            AS u(job_id, seq, at, entry_type, from_status, to_status, reason, actor, silo, data, check_stored)
        WHERE CASE WHEN u.check_stored
            THEN NOT EXISTS (SELECT 1 FROM job_journal j WHERE j.job_id = u.job_id AND j.seq = u.seq) ELSE true END
        ON CONFLICT (job_id, seq) DO NOTHING
        RETURNING job_id, seq, event_id
        """;

    /// <summary>Writes everything given; returns how many index rows changed and journal entries were new.</summary>
    public async Task<(int IndexRows, int JournalEntries)> WriteAsync(
        IReadOnlyCollection<JobIndexRow> rows, IReadOnlyList<JobJournalEntry> entries, CancellationToken cancellationToken)
    {
        var written = await WriteReturningAsync(rows, entries, cancellationToken);
        return (written.IndexRows, written.Inserted.Count);
    }

    /// <summary>Writes everything given; returns how many index rows changed and the journal entries that were new, with their event ids.</summary>
    public Task<ProjectionWrite> WriteReturningAsync(
        IReadOnlyCollection<JobIndexRow> rows, IReadOnlyList<JobJournalEntry> entries, CancellationToken cancellationToken) =>
        WriteReturningAsync(rows, entries, null, cancellationToken);

    /// <summary>
    /// Writes everything given; returns how many index rows changed and the journal entries that were new, with their event ids.
    /// <paramref name="maybeStored"/>: for each entry, whether it may be in the journal already (then it is looked up first, so
    /// that it draws no event id); null when none may be.
    /// </summary>
    public async Task<ProjectionWrite> WriteReturningAsync(
        IReadOnlyCollection<JobIndexRow> rows, IReadOnlyList<JobJournalEntry> entries, IReadOnlyList<bool>? maybeStored,
        CancellationToken cancellationToken)
    {
        // One statement may not update a row twice: keep each job's newest row.
        var newest = rows.GroupBy(r => r.JobId, StringComparer.Ordinal).Select(g => g.MaxBy(r => r.StateVersion)!).ToList();
        await using var batch = dataSource.CreateBatch();
        if (newest.Count > 0)
        {
            batch.BatchCommands.Add(IndexCommand(newest));
        }

        if (entries.Count == 0)
        {
            if (newest.Count > 0)
            {
                await batch.ExecuteNonQueryAsync(cancellationToken);
            }

            return new ProjectionWrite(newest.Count > 0 ? batch.BatchCommands[0].RecordsAffected : 0, []);
        }

        // Held until the batch's implicit transaction commits: no other silo draws ids meanwhile.
        batch.BatchCommands.Add(new NpgsqlBatchCommand($"SELECT pg_advisory_xact_lock({EventIdLockKey})"));
        batch.BatchCommands.Add(JournalCommand(entries, maybeStored));
        var inserted = new List<InsertedEntry>(entries.Count);
        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
        {
            // The lock's one row, then the entries actually inserted (not those skipped as stored already).
            await reader.NextResultAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                inserted.Add(new InsertedEntry(reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2)));
            }
        }

        return new ProjectionWrite(newest.Count > 0 ? batch.BatchCommands[0].RecordsAffected : 0, inserted);
    }

    /// <summary>The status and state version the job's index row shows; null when it has none.</summary>
    public async Task<(string Status, long Version)?> ReadIndexAsync(string jobId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(ReadIndexSql);
        command.Parameters.AddWithValue("id", jobId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? (reader.GetString(0), reader.GetInt64(1)) : null;
    }

    /// <summary>Writes the row whatever version the stored one shows: a repair of a row that is wrong (the state validator's), never a projection.</summary>
    public async Task ReplaceIndexRowAsync(JobIndexRow row, CancellationToken cancellationToken = default)
    {
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(IndexCommand([row], replace: true));
        await batch.ExecuteNonQueryAsync(cancellationToken);
    }

    private static NpgsqlBatchCommand IndexCommand(List<JobIndexRow> rows, bool replace = false)
    {
        var command = new NpgsqlBatchCommand(replace ? UpsertIndexSql : UpsertIndexSql + NewerOnly);
        var p = command.Parameters;
        Text(p, "job_id", rows.Select(r => r.JobId));
        Text(p, "job_type", rows.Select(r => r.JobType));
        Text(p, "status", rows.Select(r => r.Status.ToString()));
        p.Add(new NpgsqlParameter<int[]>("priority", [.. rows.Select(r => r.Priority)]));
        Text(p, "library_id", rows.Select(r => r.LibraryId));
        Text(p, "device_id", rows.Select(r => r.DeviceId));
        p.Add(new NpgsqlParameter<double[]>("progress", [.. rows.Select(r => Math.Clamp(r.Progress, 0, 1))]));
        p.Add(new NpgsqlParameter<long[]>("processed", [.. rows.Select(r => r.Processed)]));
        p.Add(new NpgsqlParameter("total", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = rows.Select(r => r.Total).ToArray() });
        Text(p, "owner_silo", rows.Select(r => r.OwnerSilo));
        p.Add(new NpgsqlParameter<int[]>("attempt", [.. rows.Select(r => r.Attempt)]));
        p.Add(new NpgsqlParameter<int[]>("recoveries", [.. rows.Select(r => r.Recoveries)]));
        Text(p, "queued_reason", rows.Select(r => r.QueuedReason));
        Text(p, "error", rows.Select(r => r.Error));
        Text(p, "idempotency_key", rows.Select(r => r.IdempotencyKey));
        Times(p, "created_at", rows.Select(r => (DateTimeOffset?)r.CreatedAt));
        Times(p, "run_after", rows.Select(r => r.RunAfter));
        Times(p, "started_at", rows.Select(r => r.StartedAt));
        Times(p, "finished_at", rows.Select(r => r.FinishedAt));
        Times(p, "last_progress_at", rows.Select(r => r.LastProgressAt));
        Times(p, "updated_at", rows.Select(r => (DateTimeOffset?)r.UpdatedAt));
        p.Add(new NpgsqlParameter<long[]>("state_version", [.. rows.Select(r => r.StateVersion)]));
        Text(p, "interruption", rows.Select(r => r.Interruption));
        Text(p, "device_kind", rows.Select(r => r.DeviceKind));
        return command;
    }

    /// <summary>
    /// The journal insert. One statement does not see its own rows, so an entry given twice would pass the look-up twice and
    /// the second copy draw an id: each entry goes once, in the place it first has, looked up if any copy may be stored.
    /// </summary>
    private static NpgsqlBatchCommand JournalCommand(IReadOnlyList<JobJournalEntry> given, IReadOnlyList<bool>? maybeStored)
    {
        var entries = new List<JobJournalEntry>(given.Count);
        var check = new List<bool>(given.Count);
        var places = new Dictionary<(string, long), int>(given.Count);
        for (var i = 0; i < given.Count; i++)
        {
            var entry = given[i];
            var mayBeStored = maybeStored is not null && maybeStored[i];
            if (places.TryGetValue((entry.JobId, entry.Seq), out var place))
            {
                check[place] |= mayBeStored;
                continue;
            }

            places[(entry.JobId, entry.Seq)] = entries.Count;
            entries.Add(entry);
            check.Add(mayBeStored);
        }

        var command = new NpgsqlBatchCommand(InsertJournalSql);
        var p = command.Parameters;
        Text(p, "job_id", entries.Select(e => e.JobId));
        p.Add(new NpgsqlParameter<long[]>("seq", [.. entries.Select(e => e.Seq)]));
        Times(p, "at", entries.Select(e => (DateTimeOffset?)e.At));
        Text(p, "entry_type", entries.Select(e => e.Type));
        Text(p, "from_status", entries.Select(e => e.From?.ToString()));
        Text(p, "to_status", entries.Select(e => e.To?.ToString()));
        Text(p, "reason", entries.Select(e => e.Reason));
        Text(p, "actor", entries.Select(e => e.Actor));
        Text(p, "silo", entries.Select(e => e.Silo));
        p.Add(new NpgsqlParameter("data", NpgsqlDbType.Array | NpgsqlDbType.Jsonb) { Value = entries.Select(e => e.DataJson).ToArray() });
        p.Add(new NpgsqlParameter<bool[]>("check", [.. check]));
        return command;
    }

    private static void Text(NpgsqlParameterCollection parameters, string name, IEnumerable<string?> values) =>
        parameters.Add(new NpgsqlParameter(name, NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = values.ToArray() });

    private static void Times(NpgsqlParameterCollection parameters, string name, IEnumerable<DateTimeOffset?> values) =>
        parameters.Add(new NpgsqlParameter(name, NpgsqlDbType.Array | NpgsqlDbType.TimestampTz)
        {
            Value = values.Select(v => v?.UtcDateTime).ToArray(),
        });
}

/// <summary>A journal entry a write inserted, with the event id it drew.</summary>
public readonly record struct InsertedEntry(string JobId, long Seq, long EventId);

/// <summary>What one projection write changed.</summary>
public sealed record ProjectionWrite(int IndexRows, IReadOnlyList<InsertedEntry> Inserted);
