using Npgsql;

namespace OrleansJobs.Jobs.Persistence;

/// <summary>The rows a purged job leaves in the read model and the transaction log: deleted in one transaction.</summary>
public sealed class JobPurgeStore(NpgsqlDataSource dataSource)
{
    /// <summary>Deletes the job's journal, file operations and index row.</summary>
    public async Task DeleteRowsAsync(string jobId, CancellationToken cancellationToken = default)
    {
        await using var batch = dataSource.CreateBatch();
        foreach (var sql in new[]
        {
            "DELETE FROM job_journal WHERE job_id = @id",
            "DELETE FROM file_operations WHERE job_id = @id",
            "DELETE FROM job_index WHERE job_id = @id",
        })
        {
            var command = new NpgsqlBatchCommand(sql);
            command.Parameters.AddWithValue("id", jobId);
            batch.BatchCommands.Add(command);
        }

        await batch.ExecuteNonQueryAsync(cancellationToken);
    }
}
