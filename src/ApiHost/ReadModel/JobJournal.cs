using System.Text.Json;
using Npgsql;
using OrleansJobs.ApiHost.Apis;

namespace OrleansJobs.ApiHost.ReadModel;

/// <summary>Reads a job's journal from the <c>job_journal</c> table, oldest first.</summary>
public sealed class JobJournal(NpgsqlDataSource database)
{
    public async Task<List<JournalEntryResponse>> ReadAsync(string jobId, CancellationToken cancellationToken)
    {
        var entries = new List<JournalEntryResponse>();
        await using var command = database.CreateCommand(
            "SELECT seq, at, entry_type, from_status, to_status, reason, actor, silo, data::text FROM job_journal WHERE job_id = @id ORDER BY seq");
        command.Parameters.AddWithValue("id", jobId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            entries.Add(new JournalEntryResponse(
                reader.GetInt64(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetString(2), Text(reader, 3), Text(reader, 4),
                Text(reader, 5), Text(reader, 6), Text(reader, 7),
                reader.IsDBNull(8) ? null : JsonDocument.Parse(reader.GetString(8)).RootElement.Clone()));
        }

        return entries;
    }

    private static string? Text(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
