using System.Text;
using Npgsql;
using NpgsqlTypes;
using OrleansJobs.ApiHost.Apis;
using OrleansJobs.Jobs;

namespace OrleansJobs.ApiHost.ReadModel;

/// <summary>Reads job listings from the <c>job_index</c> table (never from grains); every value is a parameter.</summary>
public sealed class JobListing(NpgsqlDataSource database, ClusterView cluster)
{
    public async Task<JobPage> QueryAsync(ListJobsQuery query, CancellationToken cancellationToken)
    {
        var sql = new StringBuilder("""
            SELECT j.job_id, j.job_type, j.status, j.priority, j.progress, j.processed, j.total, j.attempt, j.recoveries,
                   j.owner_silo, j.queued_reason, j.error, j.created_at, j.started_at, j.finished_at, j.last_progress_at, j.updated_at,
                   j.device_id, j.interruption
            FROM job_index j
            WHERE true
            """);
        await using var command = database.CreateCommand();
        var statuses = (query.Status ?? []).SelectMany(s => s.Statuses).Distinct().Select(s => s.ToString()).ToArray();
        JobIndexFilter.Append(sql, command, statuses, query.Type, query.CreatedFrom, query.CreatedTo);

        if (query.Stuck == true)
        {
            sql.Append(" AND ").Append(StalledJobs.Condition);
            StalledJobs.AddParameters(command, await cluster.JobTypesAsync());
        }

        if (query.Interrupted == true)
        {
            // Stopped by their device (paused, waiting for it or an operator), or active on a silo that is gone.
            sql.Append($"""
                 AND (j.interruption IS NOT NULL OR (j.status IN ({JobStatusSql.Active}) AND j.owner_silo IS NOT NULL
                 AND NOT (j.owner_silo = ANY(@active_silos))))
                """);
            command.Parameters.Add(new NpgsqlParameter("active_silos", NpgsqlDbType.Array | NpgsqlDbType.Text)
            {
                Value = await cluster.ActiveSilosAsync(cancellationToken),
            });
        }

        if (query.Cursor is { } after)
        {
            sql.Append(" AND (j.created_at, j.job_id) < (@after_at, @after_id)");
            command.Parameters.AddWithValue("after_at", after.CreatedAt.UtcDateTime);
            command.Parameters.AddWithValue("after_id", after.Id);
        }

        var limit = query.Limit ?? ListJobsQuery.DefaultLimit;
        sql.Append(" ORDER BY j.created_at DESC, j.job_id DESC LIMIT @limit");
        command.Parameters.AddWithValue("limit", limit + 1);
        command.CommandText = sql.ToString();

        var items = new List<JobSummary>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            items.Add(new JobSummary(
                reader.GetString(0), reader.GetString(1), Enum.Parse<JobStatus>(reader.GetString(2)), reader.GetInt32(3), reader.GetDouble(4),
                reader.GetInt64(5), reader.IsDBNull(6) ? null : reader.GetInt64(6), reader.GetInt32(7), reader.GetInt32(8),
                reader.IsDBNull(9) ? null : reader.GetString(9), reader.IsDBNull(10) ? null : reader.GetString(10),
                reader.IsDBNull(11) ? null : reader.GetString(11), reader.GetFieldValue<DateTimeOffset>(12), OptionalTime(reader, 13),
                OptionalTime(reader, 14), OptionalTime(reader, 15), reader.GetFieldValue<DateTimeOffset>(16),
                reader.IsDBNull(17) ? null : reader.GetString(17), reader.IsDBNull(18) ? null : reader.GetString(18)));
        }

        string? next = null;
        if (items.Count > limit)
        {
            items.RemoveAt(items.Count - 1);
            next = new JobCursor(items[^1].CreatedAt, items[^1].Id).ToString();
        }

        return new JobPage(items, next);
    }

    private static DateTimeOffset? OptionalTime(NpgsqlDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.GetFieldValue<DateTimeOffset>(ordinal);
}
