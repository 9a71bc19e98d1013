using System.Text;
using Npgsql;
using OrleansJobs.ApiHost.Apis;

namespace OrleansJobs.ApiHost.ReadModel;

/// <summary>A job's file operations (its transaction log, <c>file_operations</c>), in order.</summary>
public sealed class FileOperationReads(NpgsqlDataSource database)
{
    private const string TotalsSql = "SELECT status, count(*) FROM file_operations WHERE job_id = @job GROUP BY status";

    /// <summary>A page (or, with no limit, everything after the cursor) and the totals by status over the whole log.</summary>
    public async Task<FileOperationPage> ReadAsync(string jobId, FileOperationsQuery query, int? limit, CancellationToken cancellationToken)
    {
        var sql = new StringBuilder("""
            SELECT op_seq, operation, source_path, target_path, sha256, size_bytes, status, error, note, reverts_job_id, reverts_op_seq, updated_at
            FROM file_operations WHERE job_id = @job
            """);
        await using var command = database.CreateCommand();
        command.Parameters.AddWithValue("job", jobId);
        var statuses = (query.Status ?? []).SelectMany(s => s.Statuses).Distinct(StringComparer.Ordinal).ToArray();
        if (statuses.Length > 0)
        {
            sql.Append(" AND status = ANY(@statuses)");
            command.Parameters.AddWithValue("statuses", statuses);
        }

        if (query.Cursor is { } after)
        {
            sql.Append(" AND op_seq > @after");
            command.Parameters.AddWithValue("after", after);
        }

        sql.Append(" ORDER BY op_seq");
        if (limit is { } n)
        {
            sql.Append(" LIMIT @limit");
            command.Parameters.AddWithValue("limit", n + 1);
        }

        command.CommandText = sql.ToString();
        var items = new List<FileOperationResponse>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                items.Add(new FileOperationResponse(
                    reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                    reader.IsDBNull(4) ? null : Convert.ToHexStringLower(reader.GetFieldValue<byte[]>(4)),
                    reader.IsDBNull(5) ? null : reader.GetInt64(5), reader.GetString(6), reader.IsDBNull(7) ? null : reader.GetString(7),
                    reader.IsDBNull(8) ? null : reader.GetString(8), reader.IsDBNull(9) ? null : reader.GetString(9),
                    reader.IsDBNull(10) ? null : reader.GetInt64(10), reader.GetFieldValue<DateTimeOffset>(11)));
            }
        }

        string? next = null;
        if (limit is { } max && items.Count > max)
        {
            items.RemoveAt(items.Count - 1);
            next = items[^1].Seq.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        var totals = FileOperationStatusFilter.Names.ToDictionary(s => s, _ => 0L, StringComparer.Ordinal);
        await using (var totalsCommand = database.CreateCommand(TotalsSql))
        {
            totalsCommand.Parameters.AddWithValue("job", jobId);
            await using var reader = await totalsCommand.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                totals[reader.GetString(0)] = reader.GetInt64(1);
            }
        }

        return new FileOperationPage(items, totals, next);
    }
}
