using System.Globalization;
using System.Text;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using Orleans.Configuration;
using OrleansJobs.ApiHost.Hosting;
using OrleansJobs.Jobs;

namespace OrleansJobs.ApiHost.Apis;

/// <summary>A job in a listing: its row of the job index.</summary>
public sealed record JobSummary(
    string Id, string Type, JobStatus Status, int Priority, double Fraction, long Processed, long? Total, int Attempt,
    int Recoveries, string? Silo, string? QueuedReason, string? Error, DateTimeOffset CreatedAt, DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt, DateTimeOffset? LastProgressAt, DateTimeOffset UpdatedAt);

/// <summary>A page of jobs, newest first; pass <see cref="NextCursor"/> as <c>cursor</c> for the next page.</summary>
public sealed record JobPage(IReadOnlyList<JobSummary> Items, string? NextCursor);

/// <summary>Filters of <c>GET /api/jobs</c>.</summary>
public sealed record JobFilter(
    IReadOnlyList<JobStatus> Statuses, string? Type, DateTimeOffset? CreatedFrom, DateTimeOffset? CreatedTo,
    bool Stuck, bool Interrupted, int Limit, (DateTimeOffset CreatedAt, string Id)? After);

/// <summary>Reads job listings from the <c>job_index</c> table (never from grains).</summary>
public sealed class JobListing(NpgsqlDataSource database, IOptions<ClusterOptions> cluster, IOptions<ApiHostOptions> options)
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 500;

    public static (JobFilter? Filter, List<FieldError> Errors) Parse(IQueryCollection query)
    {
        var errors = new List<FieldError>();
        var statuses = new List<JobStatus>();
        foreach (var value in query["status"].SelectMany(v => (v ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            if (Enum.TryParse<JobStatus>(value, ignoreCase: false, out var status) && Enum.IsDefined(status) && !int.TryParse(value, out _))
            {
                statuses.Add(status);
            }
            else
            {
                errors.Add(new("status", $"'{value}' is not a job status ({string.Join(", ", Enum.GetNames<JobStatus>())})"));
            }
        }

        var type = query["type"].FirstOrDefault();
        var createdFrom = Time(query, "createdFrom", errors);
        var createdTo = Time(query, "createdTo", errors);
        var stuck = Flag(query, "stuck", errors);
        var interrupted = Flag(query, "interrupted", errors);
        var limit = DefaultLimit;
        if (query["limit"].FirstOrDefault() is { } limitText && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > MaxLimit))
        {
            errors.Add(new("limit", $"must be a whole number from 1 to {MaxLimit}"));
        }

        (DateTimeOffset, string)? after = null;
        if (query["cursor"].FirstOrDefault() is { } cursor)
        {
            after = DecodeCursor(cursor);
            if (after is null)
            {
                errors.Add(new("cursor", "is not a cursor returned by this API"));
            }
        }

        return errors.Count > 0
            ? (null, errors)
            : (new JobFilter(statuses, type, createdFrom, createdTo, stuck, interrupted, limit, after), errors);
    }

    public async Task<JobPage> QueryAsync(JobFilter filter, CancellationToken cancellationToken)
    {
        var sql = new StringBuilder("""
            SELECT j.job_id, j.job_type, j.status, j.priority, j.progress, j.processed, j.total, j.attempt, j.recoveries,
                   j.owner_silo, j.queued_reason, j.error, j.created_at, j.started_at, j.finished_at, j.last_progress_at, j.updated_at
            FROM job_index j
            WHERE true
            """);
        await using var command = database.CreateCommand();
        if (filter.Statuses.Count > 0)
        {
            sql.Append(" AND j.status = ANY(@statuses)");
            command.Parameters.Add(new NpgsqlParameter("statuses", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = filter.Statuses.Select(s => s.ToString()).ToArray() });
        }

        if (filter.Type is not null)
        {
            sql.Append(" AND j.job_type = @type");
            command.Parameters.AddWithValue("type", filter.Type);
        }

        if (filter.CreatedFrom is { } from)
        {
            sql.Append(" AND j.created_at >= @from");
            command.Parameters.AddWithValue("from", from.UtcDateTime);
        }

        if (filter.CreatedTo is { } to)
        {
            sql.Append(" AND j.created_at < @to");
            command.Parameters.AddWithValue("to", to.UtcDateTime);
        }

        if (filter.Stuck)
        {
            sql.Append(" AND j.status IN ('Running', 'Cancelling') AND coalesce(j.last_progress_at, j.started_at) < now() - @stuck_after");
            command.Parameters.AddWithValue("stuck_after", options.Value.StuckAfter);
        }

        if (filter.Interrupted)
        {
            // Active jobs whose owning silo is no longer an active member of this cluster.
            sql.Append("""
                 AND j.status IN ('Queued', 'Running', 'Paused', 'Cancelling') AND j.owner_silo IS NOT NULL
                 AND NOT EXISTS (
                     SELECT 1 FROM orleansmembershiptable m
                     WHERE m.deploymentid = @cluster AND m.status = 3
                       AND m.address || ':' || m.port || '@' || m.generation = j.owner_silo)
                """);
            command.Parameters.AddWithValue("cluster", cluster.Value.ClusterId);
        }

        if (filter.After is { } after)
        {
            sql.Append(" AND (j.created_at, j.job_id) < (@after_at, @after_id)");
            command.Parameters.AddWithValue("after_at", after.CreatedAt.UtcDateTime);
            command.Parameters.AddWithValue("after_id", after.Id);
        }

        sql.Append(" ORDER BY j.created_at DESC, j.job_id DESC LIMIT @limit");
        command.Parameters.AddWithValue("limit", filter.Limit + 1);
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
                OptionalTime(reader, 14), OptionalTime(reader, 15), reader.GetFieldValue<DateTimeOffset>(16)));
        }

        string? next = null;
        if (items.Count > filter.Limit)
        {
            items.RemoveAt(items.Count - 1);
            next = EncodeCursor(items[^1].CreatedAt, items[^1].Id);
        }

        return new JobPage(items, next);
    }

    private static DateTimeOffset? OptionalTime(NpgsqlDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.GetFieldValue<DateTimeOffset>(ordinal);

    private static string EncodeCursor(DateTimeOffset createdAt, string id) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes($"{createdAt.UtcTicks.ToString(CultureInfo.InvariantCulture)}|{id}"))
            .TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static (DateTimeOffset, string)? DecodeCursor(string cursor)
    {
        try
        {
            var padded = cursor.Replace('-', '+').Replace('_', '/');
            padded += new string('=', (4 - padded.Length % 4) % 4);
            var text = Encoding.UTF8.GetString(Convert.FromBase64String(padded));
            var bar = text.IndexOf('|', StringComparison.Ordinal);
            if (bar <= 0 || bar == text.Length - 1 || !long.TryParse(text.AsSpan(0, bar), NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
                || ticks > DateTimeOffset.MaxValue.UtcTicks)
            {
                return null;
            }

            return (new DateTimeOffset(ticks, TimeSpan.Zero), text[(bar + 1)..]);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static DateTimeOffset? Time(IQueryCollection query, string name, List<FieldError> errors)
    {
        if (query[name].FirstOrDefault() is not { } text)
        {
            return null;
        }

        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var value))
        {
            return value;
        }

        errors.Add(new(name, "must be an ISO 8601 date and time, e.g. 2026-11-22T12:00:00Z"));
        return null;
    }

    private static bool Flag(IQueryCollection query, string name, List<FieldError> errors)
    {
        if (query[name].FirstOrDefault() is not { } text)
        {
            return false;
        }

        if (bool.TryParse(text, out var value))
        {
            return value;
        }

        errors.Add(new(name, "must be true or false"));
        return false;
    }
}
