using Npgsql;
using NpgsqlTypes;
using OrleansJobs.ApiHost.Events;
using OrleansJobs.Events;
using OrleansJobs.Jobs;

namespace OrleansJobs.ApiHost.ReadModel;

/// <summary>Journal entries as job events, read by event id (replay and the feed's gaps); docs/events.md.</summary>
public sealed class EventReads(NpgsqlDataSource database)
{
    // The status an entry shows: its own transition, else the job's last one before it, else the job's status now.
    private const string RangeSql = """
        SELECT e.* FROM (
            SELECT j.event_id, j.job_id, j.seq, j.at, j.entry_type, j.from_status, j.to_status, j.reason, j.actor, j.silo, j.data::text,
                i.job_type, i.library_id, i.device_id,
                coalesce(j.to_status, (SELECT p.to_status FROM job_journal p
                    WHERE p.job_id = j.job_id AND p.seq < j.seq AND p.to_status IS NOT NULL ORDER BY p.seq DESC LIMIT 1), i.status) AS status
            FROM job_journal j LEFT JOIN job_index i ON i.job_id = j.job_id
            WHERE j.event_id >= @from AND j.event_id < @to
                AND (@job::text IS NULL OR j.job_id = @job)
                AND (@type::text IS NULL OR i.job_type = @type)
                AND (@library::text IS NULL OR i.library_id = @library)
                AND (@device::text IS NULL OR i.device_id = @device)
        ) e
        WHERE @statuses::text[] IS NULL OR e.status = ANY(@statuses)
        ORDER BY e.event_id
        LIMIT @limit
        """;

    /// <summary>The newest event id committed (0: none).</summary>
    public async Task<long> MaxEventIdAsync(CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand("SELECT coalesce(max(event_id), 0) FROM job_journal");
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>Whether the journal or the index knows the job.</summary>
    public async Task<bool> JobKnownAsync(string jobId, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand(
            "SELECT EXISTS (SELECT 1 FROM job_index WHERE job_id = @id) OR EXISTS (SELECT 1 FROM job_journal WHERE job_id = @id)");
        command.Parameters.AddWithValue("id", jobId);
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>The events with ids in [<paramref name="from"/>, <paramref name="to"/>) that pass the filter, in id order, read a page at a time.</summary>
    public async IAsyncEnumerable<JobEvent> ReadAsync(
        long from, long to, EventFilter? filter, int pageSize, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (from < to)
        {
            var page = await ReadPageAsync(from, to, filter, pageSize, cancellationToken);
            foreach (var e in page)
            {
                yield return e;
            }

            if (page.Count < pageSize)
            {
                yield break;
            }

            from = page[^1].EventId + 1;
        }
    }

    private async Task<List<JobEvent>> ReadPageAsync(long from, long to, EventFilter? filter, int limit, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand(RangeSql);
        command.Parameters.AddWithValue("from", from);
        command.Parameters.AddWithValue("to", to);
        Text(command, "job", filter?.JobId);
        Text(command, "type", filter?.JobType);
        Text(command, "library", filter?.LibraryId);
        Text(command, "device", filter?.DeviceId);
        command.Parameters.Add(new NpgsqlParameter("statuses", NpgsqlDbType.Array | NpgsqlDbType.Text)
        {
            Value = filter?.Statuses is { } statuses ? statuses.ToArray() : DBNull.Value,
        });
        command.Parameters.AddWithValue("limit", limit);
        var events = new List<JobEvent>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var jobId = reader.GetString(1);
            var entry = new JobJournalEntry(jobId, reader.GetInt64(2), reader.GetFieldValue<DateTimeOffset>(3), reader.GetString(4),
                Status(reader, 5), Status(reader, 6), Nullable(reader, 7), Nullable(reader, 8), Nullable(reader, 9), Nullable(reader, 10));
            events.Add(new JobEvent(reader.GetInt64(0), JobEvent.JournalKind, jobId, Nullable(reader, 11), Nullable(reader, 14),
                Nullable(reader, 12), Nullable(reader, 13), entry.At) { Entry = entry });
        }

        return events;
    }

    private static void Text(NpgsqlCommand command, string name, string? value) =>
        command.Parameters.Add(new NpgsqlParameter(name, NpgsqlDbType.Text) { Value = value is null ? DBNull.Value : value });

    private static string? Nullable(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private static JobStatus? Status(NpgsqlDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : Enum.TryParse<JobStatus>(reader.GetString(ordinal), out var status) ? status : null;
}
