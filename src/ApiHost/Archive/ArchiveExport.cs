using System.Buffers;
using System.Data;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using OrleansJobs.ApiHost.ReadModel;
using OrleansJobs.Jobs;

namespace OrleansJobs.ApiHost.Archive;

/// <summary>
/// One export, read in one snapshot of the database (a repeatable-read transaction) and written as it is read:
/// libraries, devices, then the jobs the filter takes, a page of <see cref="PageSize"/> at a time in the order
/// they were created, each page in four queries (ids, states, journals, file operations). Memory holds one page's
/// states and journals and one line; file operations stream. A failure after the first byte leaves the archive
/// without its end line, which an import refuses.
/// </summary>
public sealed class ArchiveExport : IAsyncDisposable
{
    public const int PageSize = 500;

    /// <summary>Output is handed to gzip once this much of a line is pending.</summary>
    private const int FlushBytes = 256 * 1024;

    private readonly NpgsqlConnection _connection;
    private readonly NpgsqlTransaction _transaction;
    private readonly ArchiveFilter _filter;
    private readonly ArrayBufferWriter<byte> _buffer = new(FlushBytes * 2);
    private readonly Utf8JsonWriter _json;
    private Stream _output = Stream.Null;

    private ArchiveExport(NpgsqlConnection connection, NpgsqlTransaction transaction, ArchiveFilter filter, DateTimeOffset exportedAt)
    {
        _connection = connection;
        _transaction = transaction;
        _filter = filter;
        ExportedAt = exportedAt;
        _json = new Utf8JsonWriter(_buffer);
    }

    public DateTimeOffset ExportedAt { get; }

    /// <summary>Opens the snapshot: a database that cannot be reached fails here, before anything is answered.</summary>
    public static async Task<ArchiveExport> OpenAsync(NpgsqlDataSource database, ArchiveFilter filter, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var connection = await database.OpenConnectionAsync(cancellationToken);
        try
        {
            var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);
            await using (var readOnly = new NpgsqlCommand("SET TRANSACTION READ ONLY", connection, transaction))
            {
                await readOnly.ExecuteNonQueryAsync(cancellationToken);
            }

            return new ArchiveExport(connection, transaction, filter, now);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>Writes the whole archive to <paramref name="body"/>.</summary>
    public async Task WriteAsync(Stream body, CancellationToken cancellationToken)
    {
        await using var gzip = new GZipStream(body, CompressionLevel.Fastest, leaveOpen: true);
        _output = gzip;
        JsonSerializer.Serialize(_json, new ArchiveHeader(ArchiveFormat.Name, ArchiveFormat.Version, ExportedAt, _filter), ArchiveFormat.Json);
        await EndLineAsync(cancellationToken);
        var libraries = await LibrariesAsync(cancellationToken);
        var devices = await DevicesAsync(cancellationToken);
        long jobs = 0;
        (DateTimeOffset At, string Id)? after = null;
        while (await PageAsync(after, cancellationToken) is { Count: > 0 } page)
        {
            jobs += await JobsAsync(page, cancellationToken);
            after = page[^1];
        }

        JsonSerializer.Serialize(_json, new ArchiveEnd(ArchiveFormat.End, libraries, devices, jobs), ArchiveFormat.Json);
        await EndLineAsync(cancellationToken);
        await WritePendingAsync(cancellationToken);
        await _transaction.CommitAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await _json.DisposeAsync();
        await _transaction.DisposeAsync();
        await _connection.DisposeAsync();
    }

    private async Task<long> LibrariesAsync(CancellationToken cancellationToken)
    {
        long count = 0;
        await using var command = Command("SELECT library_id, name, root, settings::text, created_at, updated_at, version FROM libraries ORDER BY library_id");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            _json.WriteStartObject();
            _json.WriteString("kind", ArchiveFormat.Library);
            _json.WriteString("id", reader.GetString(0));
            _json.WriteString("name", reader.GetString(1));
            _json.WriteString("root", reader.GetString(2));
            _json.WritePropertyName("settings");
            _json.WriteRawValue(reader.GetString(3));
            WriteTimesAndVersion(reader, 4);
            _json.WriteEndObject();
            await EndLineAsync(cancellationToken);
            count++;
        }

        return count;
    }

    private async Task<long> DevicesAsync(CancellationToken cancellationToken)
    {
        long count = 0;
        await using var command = Command(
            "SELECT device_id, kind, name, settings::text, heartbeat_timeout, created_at, updated_at, version FROM devices ORDER BY device_id");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            _json.WriteStartObject();
            _json.WriteString("kind", ArchiveFormat.Device);
            _json.WriteString("id", reader.GetString(0));
            _json.WriteString("deviceKind", reader.GetString(1));
            _json.WriteString("name", reader.GetString(2));
            _json.WritePropertyName("settings");
            _json.WriteRawValue(reader.GetString(3));
            _json.WriteNumber("heartbeatTimeoutSeconds", reader.GetInt32(4));
            WriteTimesAndVersion(reader, 5);
            _json.WriteEndObject();
            await EndLineAsync(cancellationToken);
            count++;
        }

        return count;
    }

    private void WriteTimesAndVersion(NpgsqlDataReader reader, int first)
    {
        _json.WriteString("createdAt", reader.GetFieldValue<DateTimeOffset>(first));
        _json.WriteString("updatedAt", reader.GetFieldValue<DateTimeOffset>(first + 1));
        _json.WriteNumber("version", reader.GetInt64(first + 2));
    }

    /// <summary>The next page of the filter's jobs, oldest first, after <paramref name="after"/>.</summary>
    private async Task<List<(DateTimeOffset At, string Id)>> PageAsync((DateTimeOffset At, string Id)? after, CancellationToken cancellationToken)
    {
        var sql = new StringBuilder("SELECT j.job_id, j.created_at FROM job_index j WHERE true");
        await using var command = Command("");
        JobIndexFilter.Append(sql, command, _filter.Status, _filter.Type, _filter.CreatedAfter, _filter.CreatedBefore);
        if (after is { } cursor)
        {
            sql.Append(" AND (j.created_at, j.job_id) > (@after_at, @after_id)");
            command.Parameters.AddWithValue("after_at", cursor.At.UtcDateTime);
            command.Parameters.AddWithValue("after_id", cursor.Id);
        }

        command.CommandText = sql.Append(" ORDER BY j.created_at, j.job_id LIMIT ").Append(PageSize).ToString();
        var page = new List<(DateTimeOffset, string)>(PageSize);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            page.Add((reader.GetFieldValue<DateTimeOffset>(1), reader.GetString(0)));
        }

        return page;
    }

    /// <summary>Writes the page's jobs in page order; a job the index shows but whose state is gone (purged meanwhile) is left out.</summary>
    private async Task<long> JobsAsync(List<(DateTimeOffset At, string Id)> page, CancellationToken cancellationToken)
    {
        var ids = page.Select(p => p.Id).ToArray();
        var states = await StatesAsync(ids, cancellationToken);
        var journals = await JournalsAsync(ids, cancellationToken);
        await using var command = Command("""
            SELECT k.i, f.op_seq, f.library_id, f.operation, f.source_path, f.target_path, f.sha256, f.size_bytes, f.status, f.error, f.note,
                f.reverts_job_id, f.reverts_op_seq, f.created_at, f.updated_at
            FROM unnest(@ids) WITH ORDINALITY AS k(id, i) JOIN file_operations f ON f.job_id = k.id
            ORDER BY k.i, f.op_seq
            """);
        command.Parameters.Add(new NpgsqlParameter("ids", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = ids });
        await using var operations = await command.ExecuteReaderAsync(cancellationToken);
        var more = await operations.ReadAsync(cancellationToken);
        long written = 0;
        for (var i = 0; i < ids.Length; i++)
        {
            var ordinal = i + 1;
            if (!states.TryGetValue(ids[i], out var state))
            {
                while (more && operations.GetInt64(0) == ordinal)
                {
                    more = await operations.ReadAsync(cancellationToken);
                }

                continue;
            }

            _json.WriteStartObject();
            _json.WriteString("kind", ArchiveFormat.Job);
            _json.WriteString("id", ids[i]);
            _json.WritePropertyName("state");
            _json.WriteRawValue(state);
            _json.WritePropertyName("journal");
            JsonSerializer.Serialize(_json, journals.TryGetValue(ids[i], out var entries) ? entries : [], ArchiveFormat.Json);
            _json.WriteStartArray("operations");
            while (more && operations.GetInt64(0) == ordinal)
            {
                JsonSerializer.Serialize(_json, Operation(operations), ArchiveFormat.Json);
                await FlushIfFullAsync(cancellationToken);
                more = await operations.ReadAsync(cancellationToken);
            }

            _json.WriteEndArray();
            _json.WriteEndObject();
            await EndLineAsync(cancellationToken);
            written++;
        }

        return written;
    }

    private async Task<Dictionary<string, byte[]>> StatesAsync(string[] ids, CancellationToken cancellationToken)
    {
        await using var command = Command("""
            SELECT k.id, s.payload FROM unnest(@ids) AS k(id)
            JOIN grain_state s ON s.grain_id = 'job/' || k.id AND s.state_name = @state_name
            """);
        command.Parameters.Add(new NpgsqlParameter("ids", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = ids });
        command.Parameters.AddWithValue("state_name", StoredJob.StateName);
        var states = new Dictionary<string, byte[]>(ids.Length, StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            states[reader.GetString(0)] = reader.GetFieldValue<byte[]>(1);
        }

        return states;
    }

    private async Task<Dictionary<string, List<ArchiveJournalEntry>>> JournalsAsync(string[] ids, CancellationToken cancellationToken)
    {
        await using var command = Command("""
            SELECT job_id, seq, at, entry_type, from_status, to_status, reason, actor, silo, data::text
            FROM job_journal WHERE job_id = ANY(@ids) ORDER BY job_id, seq
            """);
        command.Parameters.Add(new NpgsqlParameter("ids", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = ids });
        var journals = new Dictionary<string, List<ArchiveJournalEntry>>(StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var jobId = reader.GetString(0);
            if (!journals.TryGetValue(jobId, out var entries))
            {
                journals[jobId] = entries = [];
            }

            entries.Add(new ArchiveJournalEntry(
                reader.GetInt64(1), reader.GetFieldValue<DateTimeOffset>(2), reader.GetString(3), Text(reader, 4), Text(reader, 5), Text(reader, 6),
                Text(reader, 7), Text(reader, 8), reader.IsDBNull(9) ? null : JsonDocument.Parse(reader.GetString(9)).RootElement.Clone()));
        }

        return journals;
    }

    private static ArchiveOperation Operation(NpgsqlDataReader r) => new(
        r.GetInt64(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetString(5), r.GetString(8), r.GetFieldValue<DateTimeOffset>(13),
        r.GetFieldValue<DateTimeOffset>(14), r.IsDBNull(6) ? null : Convert.ToHexStringLower(r.GetFieldValue<byte[]>(6)),
        r.IsDBNull(7) ? null : r.GetInt64(7), Text(r, 9), Text(r, 10), Text(r, 11), r.IsDBNull(12) ? null : r.GetInt64(12));

    private static string? Text(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private NpgsqlCommand Command(string sql) => new(sql, _connection, _transaction);

    private async Task EndLineAsync(CancellationToken cancellationToken)
    {
        _json.Flush();
        _json.Reset();
        _buffer.Write("\n"u8);
        if (_buffer.WrittenCount >= FlushBytes)
        {
            await WritePendingAsync(cancellationToken);
        }
    }

    /// <summary>A line with a long transaction log goes out in parts, so that it never needs to be whole in memory.</summary>
    private async Task FlushIfFullAsync(CancellationToken cancellationToken)
    {
        if (_json.BytesPending + _buffer.WrittenCount >= FlushBytes)
        {
            _json.Flush();
            await WritePendingAsync(cancellationToken);
        }
    }

    private async Task WritePendingAsync(CancellationToken cancellationToken)
    {
        await _output.WriteAsync(_buffer.WrittenMemory, cancellationToken);
        _buffer.ResetWrittenCount();
    }
}
