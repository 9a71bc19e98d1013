using Npgsql;
using OrleansJobs.Jobs;

namespace OrleansJobs.Safeguards;

/// <summary>
/// The state validator's questions to the database: which jobs, reminders and rows look inconsistent.
/// Each leaves alone what changed within <c>@settle</c> (a projection may still be on its way); the jobs
/// named are asked again, each against its own state, before anything is repaired. Rows that no job or
/// library owns any more are deleted here (counted, dry: only counted).
/// </summary>
public sealed class ValidatorQueries(NpgsqlDataSource dataSource)
{
    /// <summary>Each statement may scan whole tables of a large cluster: longer than the driver's default 30 s.</summary>
    private const int CommandTimeoutSeconds = 300;

    // Jobs whose index row disagrees with their state (status or version), that have a state and no row, or a
    // row and no state. The state's summary column says "Status@Version" or "absent"; a row written before that
    // column existed has its JSON read instead.
    private const string IndexSuspectsSql = $"""
        WITH s AS (
            SELECT substr(grain_id, 5) AS job_id, modified_on, coalesce(summary, (
                SELECT CASE WHEN coalesce((p ->> 'Exists')::boolean, false) THEN (p ->> 'Status') || '@' || (p ->> 'Version') ELSE 'absent' END
                FROM (SELECT convert_from(payload, 'UTF8')::jsonb AS p) parsed)) AS summary
            FROM grain_state WHERE state_name = '{StoredJob.StateName}'
        )
        SELECT coalesce(j.job_id, s.job_id)
        FROM job_index j FULL JOIN s ON s.job_id = j.job_id
        WHERE CASE
            WHEN s.job_id IS NULL OR s.summary = 'absent' THEN j.job_id IS NOT NULL AND j.updated_at < now() - @settle
            WHEN j.job_id IS NULL THEN s.modified_on < now() - @settle
            ELSE s.modified_on < now() - @settle AND j.status || '@' || j.state_version IS DISTINCT FROM s.summary
        END
        """;

    private const string JobCountSql = $"SELECT count(*) FROM grain_state WHERE state_name = '{StoredJob.StateName}'";

    // Watchdog reminders of jobs that neither run nor wait (watched by no silo), or that have no state.
    private const string StaleRemindersSql = $"""
        SELECT substr(r.grainid, 5) FROM orleansreminderstable r
        LEFT JOIN grain_state g ON g.grain_id = r.grainid AND g.state_name = '{StoredJob.StateName}'
        WHERE r.serviceid = @service AND r.remindername = 'watchdog' AND r.grainid LIKE 'job/%'
          AND (g.grain_id IS NULL OR g.watched_by IS NULL AND g.modified_on < now() - @settle)
        """;

    // File operations left in progress by jobs the index shows ended.
    private const string OperationsInProgressSql = $"""
        SELECT f.job_id, count(*)::int FROM file_operations f JOIN job_index j ON j.job_id = f.job_id
        WHERE f.status = 'in_progress' AND j.status IN ({JobStatusSql.Terminal}) AND j.updated_at < now() - @settle
        GROUP BY f.job_id ORDER BY f.job_id
        """;

    private const string OrphanCatalogCondition = "NOT EXISTS (SELECT 1 FROM libraries l WHERE l.library_id = c.library_id)";

    private const string OrphanOperationsCondition = $"""
        f.updated_at < now() - @settle AND (
            NOT EXISTS (SELECT 1 FROM libraries l WHERE l.library_id = f.library_id)
            OR NOT EXISTS (SELECT 1 FROM job_index j WHERE j.job_id = f.job_id)
                AND NOT EXISTS (SELECT 1 FROM grain_state g WHERE g.grain_id = 'job/' || f.job_id AND g.state_name = '{StoredJob.StateName}'))
        """;

    private const string OrphanJournalCondition = $"""
        r.at < now() - @settle
        AND NOT EXISTS (SELECT 1 FROM job_index j WHERE j.job_id = r.job_id)
        AND NOT EXISTS (SELECT 1 FROM grain_state g WHERE g.grain_id = 'job/' || r.job_id AND g.state_name = '{StoredJob.StateName}')
        """;

    private const string ResourcesSql = $"""
        SELECT 'library', library_id FROM libraries
        UNION ALL SELECT 'device', device_id FROM devices
        UNION SELECT 'pool', kind FROM devices
        UNION SELECT 'pool', device_kind FROM job_index WHERE device_kind IS NOT NULL AND status IN ({JobStatusSql.Active})
        UNION SELECT 'slots', job_type FROM job_index WHERE status IN ({JobStatusSql.Active})
        """;

    public async Task<long> CountJobsAsync(CancellationToken cancellationToken)
    {
        await using var command = NewCommand(JobCountSql);
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public Task<List<string>> IndexSuspectsAsync(TimeSpan settle, CancellationToken cancellationToken) =>
        ReadAsync(IndexSuspectsSql, settle, r => r.GetString(0), cancellationToken);

    public Task<List<string>> StaleRemindersAsync(string serviceId, TimeSpan settle, CancellationToken cancellationToken) =>
        ReadAsync(StaleRemindersSql, settle, r => r.GetString(0), cancellationToken, ("service", serviceId));

    public Task<List<(string JobId, int Count)>> OperationsInProgressAsync(TimeSpan settle, CancellationToken cancellationToken) =>
        ReadAsync(OperationsInProgressSql, settle, r => (r.GetString(0), r.GetInt32(1)), cancellationToken);

    /// <summary>The resources that may have holders or waiters: (kind, key) with kind library, device, pool (a device kind) or slots (a job type).</summary>
    public Task<List<(string Kind, string Key)>> ResourcesAsync(CancellationToken cancellationToken) =>
        ReadAsync(ResourcesSql, TimeSpan.Zero, r => (r.GetString(0), r.GetString(1)), cancellationToken);

    /// <summary>Deletes (dry: counts) the catalog rows, file operation rows and journal rows nothing owns any more, by finding kind.</summary>
    public async Task<List<(string Kind, int Rows)>> OrphanRowsAsync(bool dryRun, TimeSpan settle, CancellationToken cancellationToken)
    {
        var found = new List<(string, int)>();
        foreach (var (kind, table, condition) in new[]
        {
            (ValidatorFindings.OrphanCatalogRows, "library_catalog c", OrphanCatalogCondition),
            (ValidatorFindings.OrphanOperationRows, "file_operations f", OrphanOperationsCondition),
            (ValidatorFindings.OrphanJournalRows, "job_journal r", OrphanJournalCondition),
        })
        {
            await using var command = NewCommand(dryRun
                ? $"SELECT count(*)::int FROM {table} WHERE {condition}"
                : $"DELETE FROM {table} WHERE {condition}");
            command.Parameters.AddWithValue("settle", settle);
            var rows = dryRun ? (int)(await command.ExecuteScalarAsync(cancellationToken))! : await command.ExecuteNonQueryAsync(cancellationToken);
            found.Add((kind, rows));
        }

        return found;
    }

    private NpgsqlCommand NewCommand(string sql)
    {
        var command = dataSource.CreateCommand(sql);
        command.CommandTimeout = CommandTimeoutSeconds;
        return command;
    }

    private async Task<List<T>> ReadAsync<T>(
        string sql, TimeSpan settle, Func<NpgsqlDataReader, T> read, CancellationToken cancellationToken, params (string Name, object Value)[] parameters)
    {
        await using var command = NewCommand(sql);
        if (sql.Contains("@settle", StringComparison.Ordinal))
        {
            command.Parameters.AddWithValue("settle", settle);
        }

        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        var rows = new List<T>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(read(reader));
        }

        return rows;
    }
}
