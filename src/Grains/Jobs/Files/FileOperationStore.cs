using Npgsql;
using NpgsqlTypes;

namespace OrleansJobs.Jobs.Files;

/// <summary>One operation of a file job's transaction log, as the job keeps it in memory.</summary>
public sealed class FileOp
{
    public long Seq { get; init; }

    public required string Operation { get; init; }

    public required string Source { get; set; }

    public required string Target { get; set; }

    public byte[]? Sha256 { get; set; }

    public long? Size { get; set; }

    public string Status { get; set; } = FileOpStatus.Planned;

    public string? Error { get; set; }

    public string? Note { get; set; }

    public string? RevertsJob { get; init; }

    public long? RevertsSeq { get; init; }
}

/// <summary>The kinds of file operation (the <c>file_operations.operation</c> values).</summary>
public static class FileOps
{
    public const string Copy = "copy";
    public const string Move = "move";
    public const string UndoCopy = "undo_copy";
    public const string UndoMove = "undo_move";
}

/// <summary>The statuses of a file operation (the <c>file_operations.status</c> values).</summary>
public static class FileOpStatus
{
    public const string Planned = "planned";
    public const string InProgress = "in_progress";
    public const string Completed = "completed";
    public const string Skipped = "skipped";
    public const string Failed = "failed";
    public const string RolledBack = "rolled_back";
}

/// <summary>
/// The <c>file_operations</c> rows of one job: the plan is inserted in one statement (all or
/// nothing), and status changes are written a batch at a time, in one statement each.
/// </summary>
public sealed class FileOperationStore(NpgsqlDataSource dataSource)
{
    private const string LoadSql = """
        SELECT op_seq, operation, source_path, target_path, sha256, size_bytes, status, error, note, reverts_job_id, reverts_op_seq
        FROM file_operations WHERE job_id = @job ORDER BY op_seq
        """;

    private const string InsertSql = """
        INSERT INTO file_operations (job_id, op_seq, library_id, operation, source_path, target_path, sha256, size_bytes, status, note,
            reverts_job_id, reverts_op_seq, created_at, updated_at)
        SELECT @job, o.seq, @library, o.operation, o.source, o.target, o.sha, o.size, o.status, o.note, o.reverts_job, o.reverts_seq, now(), now()
        FROM unnest(@seqs, @operations, @sources, @targets, @shas, @sizes, @statuses, @notes, @reverts_jobs, @reverts_seqs)
            AS o(seq, operation, source, target, sha, size, status, note, reverts_job, reverts_seq)
        ON CONFLICT (job_id, op_seq) DO NOTHING
        """;

    private const string UpdateSql = """
        UPDATE file_operations f SET status = u.status, target_path = u.target, sha256 = u.sha, size_bytes = u.size, error = u.error,
            note = u.note, updated_at = now()
        FROM unnest(@seqs, @statuses, @targets, @shas, @sizes, @errors, @notes) AS u(seq, status, target, sha, size, error, note)
        WHERE f.job_id = @job AND f.op_seq = u.seq AND f.op_seq BETWEEN @first AND @last
        """;

    private const string RolledBackSql = """
        UPDATE file_operations SET status = 'rolled_back', updated_at = now() WHERE job_id = @job AND op_seq = ANY(@seqs) AND status = 'completed'
        """;

    public async Task<List<FileOp>> LoadAsync(string jobId, CancellationToken cancellationToken)
    {
        var ops = new List<FileOp>();
        await using var command = dataSource.CreateCommand(LoadSql);
        command.Parameters.AddWithValue("job", jobId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            ops.Add(new FileOp
            {
                Seq = reader.GetInt64(0), Operation = reader.GetString(1), Source = reader.GetString(2), Target = reader.GetString(3),
                Sha256 = reader.IsDBNull(4) ? null : reader.GetFieldValue<byte[]>(4), Size = reader.IsDBNull(5) ? null : reader.GetInt64(5),
                Status = reader.GetString(6), Error = reader.IsDBNull(7) ? null : reader.GetString(7), Note = reader.IsDBNull(8) ? null : reader.GetString(8),
                RevertsJob = reader.IsDBNull(9) ? null : reader.GetString(9), RevertsSeq = reader.IsDBNull(10) ? null : reader.GetInt64(10),
            });
        }

        return ops;
    }

    /// <summary>Inserts the plan, all of it or none (a plan already stored stays as it is).</summary>
    public async Task InsertPlanAsync(string jobId, string libraryId, IReadOnlyList<FileOp> ops, CancellationToken cancellationToken)
    {
        // One transaction: a plan is there whole or not at all (a run that finds part of one would take it for all of it).
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        foreach (var chunk in ops.Chunk(50_000))
        {
            await using var command = new NpgsqlCommand(InsertSql, connection, transaction);
            command.Parameters.AddWithValue("job", jobId);
            command.Parameters.AddWithValue("library", libraryId);
            SqlArrays.Add(command, "seqs", NpgsqlDbType.Bigint, chunk.Select(o => o.Seq));
            SqlArrays.Add(command, "operations", NpgsqlDbType.Text, chunk.Select(o => o.Operation));
            SqlArrays.Add(command, "sources", NpgsqlDbType.Text, chunk.Select(o => o.Source));
            SqlArrays.Add(command, "targets", NpgsqlDbType.Text, chunk.Select(o => o.Target));
            SqlArrays.Add(command, "shas", NpgsqlDbType.Bytea, chunk.Select(o => o.Sha256));
            SqlArrays.Add(command, "sizes", NpgsqlDbType.Bigint, chunk.Select(o => o.Size));
            SqlArrays.Add(command, "statuses", NpgsqlDbType.Text, chunk.Select(o => o.Status));
            SqlArrays.Add(command, "notes", NpgsqlDbType.Text, chunk.Select(o => o.Note));
            SqlArrays.Add(command, "reverts_jobs", NpgsqlDbType.Text, chunk.Select(o => o.RevertsJob));
            SqlArrays.Add(command, "reverts_seqs", NpgsqlDbType.Bigint, chunk.Select(o => o.RevertsSeq));
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>Writes the operations' status, target, checksum, size, error and note.</summary>
    public async Task UpdateAsync(string jobId, IReadOnlyCollection<FileOp> ops, CancellationToken cancellationToken)
    {
        if (ops.Count == 0)
        {
            return;
        }

        await using var command = dataSource.CreateCommand(UpdateSql);
        command.Parameters.AddWithValue("job", jobId);
        // The range keeps the plan on the primary key: without it, the join reads every row of the job's log.
        command.Parameters.AddWithValue("first", ops.Min(o => o.Seq));
        command.Parameters.AddWithValue("last", ops.Max(o => o.Seq));
        SqlArrays.Add(command, "seqs", NpgsqlDbType.Bigint, ops.Select(o => o.Seq));
        SqlArrays.Add(command, "statuses", NpgsqlDbType.Text, ops.Select(o => o.Status));
        SqlArrays.Add(command, "targets", NpgsqlDbType.Text, ops.Select(o => o.Target));
        SqlArrays.Add(command, "shas", NpgsqlDbType.Bytea, ops.Select(o => o.Sha256));
        SqlArrays.Add(command, "sizes", NpgsqlDbType.Bigint, ops.Select(o => o.Size));
        SqlArrays.Add(command, "errors", NpgsqlDbType.Text, ops.Select(o => o.Error));
        SqlArrays.Add(command, "notes", NpgsqlDbType.Text, ops.Select(o => o.Note));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Marks completed operations of <paramref name="jobId"/> as reverted.</summary>
    public async Task MarkRolledBackAsync(string jobId, IReadOnlyCollection<long> seqs, CancellationToken cancellationToken)
    {
        if (seqs.Count == 0)
        {
            return;
        }

        await using var command = dataSource.CreateCommand(RolledBackSql);
        command.Parameters.AddWithValue("job", jobId);
        SqlArrays.Add(command, "seqs", NpgsqlDbType.Bigint, seqs);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The library an operation log belongs to; null when the job has none.</summary>
    public async Task<string?> LibraryOfAsync(string jobId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT library_id FROM file_operations WHERE job_id = @job LIMIT 1");
        command.Parameters.AddWithValue("job", jobId);
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }
}

/// <summary>Array parameters for the statements that take a whole batch at once (<c>unnest</c>, <c>= ANY</c>).</summary>
internal static class SqlArrays
{
    public static void Add<T>(NpgsqlCommand command, string name, NpgsqlDbType type, IEnumerable<T> values) =>
        command.Parameters.Add(new NpgsqlParameter(name, NpgsqlDbType.Array | type) { Value = values.ToArray() });

    public static void Add<T>(NpgsqlBatchCommand command, string name, NpgsqlDbType type, IEnumerable<T> values) =>
        command.Parameters.Add(new NpgsqlParameter(name, NpgsqlDbType.Array | type) { Value = values.ToArray() });
}
