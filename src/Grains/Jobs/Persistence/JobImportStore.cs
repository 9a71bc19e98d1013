using Npgsql;
using NpgsqlTypes;
using OrleansJobs.Jobs.Files;
using OrleansJobs.Jobs.Projections;

namespace OrleansJobs.Jobs.Persistence;

/// <summary>
/// The rows of a job restored from an archive: its journal and its file operations, each row written once
/// whatever happens (a row already there is kept), so an import cut short can simply run again.
/// </summary>
public sealed class JobImportStore(NpgsqlDataSource dataSource, ProjectionBatcher projections)
{
    private const string InsertOperationsSql = """
        INSERT INTO file_operations (job_id, op_seq, library_id, operation, source_path, target_path, sha256, size_bytes, status, error, note,
            reverts_job_id, reverts_op_seq, created_at, updated_at)
        SELECT @job, o.seq, o.library, o.operation, o.source, o.target, o.sha, o.size, o.status, o.error, o.note, o.reverts_job, o.reverts_seq,
            o.created, o.updated
        FROM unnest(@seqs, @libraries, @operations, @sources, @targets, @shas, @sizes, @statuses, @errors, @notes, @reverts_jobs, @reverts_seqs,
            @created, @updated)
            AS o(seq, library, operation, source, target, sha, size, status, error, note, reverts_job, reverts_seq, created, updated)
        ON CONFLICT (job_id, op_seq) DO NOTHING
        """;

    private const int OperationsPerStatement = 10_000;

    public async Task RestoreAsync(string jobId, IReadOnlyCollection<JobJournalEntry> journal, IReadOnlyList<ArchivedFileOperation> operations)
    {
        if (journal.Count > 0)
        {
            // Through the silo's batcher: the journals of the jobs an import restores at once share a statement and a commit.
            await projections.WriteAsync(null, [.. journal]);
        }

        foreach (var chunk in operations.Chunk(OperationsPerStatement))
        {
            await using var command = dataSource.CreateCommand(InsertOperationsSql);
            command.Parameters.AddWithValue("job", jobId);
            SqlArrays.Add(command, "seqs", NpgsqlDbType.Bigint, chunk.Select(o => o.Seq));
            SqlArrays.Add(command, "libraries", NpgsqlDbType.Text, chunk.Select(o => o.LibraryId));
            SqlArrays.Add(command, "operations", NpgsqlDbType.Text, chunk.Select(o => o.Operation));
            SqlArrays.Add(command, "sources", NpgsqlDbType.Text, chunk.Select(o => o.Source));
            SqlArrays.Add(command, "targets", NpgsqlDbType.Text, chunk.Select(o => o.Target));
            SqlArrays.Add(command, "shas", NpgsqlDbType.Bytea, chunk.Select(o => o.Sha256));
            SqlArrays.Add(command, "sizes", NpgsqlDbType.Bigint, chunk.Select(o => o.Size));
            SqlArrays.Add(command, "statuses", NpgsqlDbType.Text, chunk.Select(o => o.Status));
            SqlArrays.Add(command, "errors", NpgsqlDbType.Text, chunk.Select(o => o.Error));
            SqlArrays.Add(command, "notes", NpgsqlDbType.Text, chunk.Select(o => o.Note));
            SqlArrays.Add(command, "reverts_jobs", NpgsqlDbType.Text, chunk.Select(o => o.RevertsJob));
            SqlArrays.Add(command, "reverts_seqs", NpgsqlDbType.Bigint, chunk.Select(o => o.RevertsSeq));
            SqlArrays.Add(command, "created", NpgsqlDbType.TimestampTz, chunk.Select(o => o.CreatedAt.UtcDateTime));
            SqlArrays.Add(command, "updated", NpgsqlDbType.TimestampTz, chunk.Select(o => o.UpdatedAt.UtcDateTime));
            await command.ExecuteNonQueryAsync();
        }
    }
}
