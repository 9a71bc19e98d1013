using Npgsql;
using NpgsqlTypes;

namespace OrleansJobs.Jobs.Files;

/// <summary>What the catalog knew of a file before an analysis.</summary>
public sealed record CatalogFacts(long Size, DateTimeOffset ModifiedAt, bool Hashed, bool Removed);

/// <summary>A file as an analysis records it; a null checksum means it was seen unchanged (the row only gets "seen").</summary>
public sealed record CatalogRow(string RelativePath, long Size, DateTimeOffset ModifiedAt, byte[]? Sha256);

/// <summary>The <c>library_catalog</c> rows of one library: read once per run, written in batches.</summary>
public sealed class CatalogStore(NpgsqlDataSource dataSource)
{
    private const string LoadSql = """
        SELECT relative_path, size_bytes, modified_at, sha256 IS NOT NULL, removed_at IS NOT NULL FROM library_catalog WHERE library_id = @library
        """;

    private const string UpsertSql = """
        INSERT INTO library_catalog (library_id, relative_path, size_bytes, modified_at, sha256, job_id, scanned_at, removed_at)
        SELECT @library, f.path, f.size, f.modified, f.sha, @job, now(), NULL
        FROM unnest(@paths, @sizes, @modified, @shas) AS f(path, size, modified, sha)
        ON CONFLICT (library_id, relative_path) DO UPDATE SET size_bytes = excluded.size_bytes, modified_at = excluded.modified_at,
            sha256 = excluded.sha256, job_id = excluded.job_id, scanned_at = excluded.scanned_at, removed_at = NULL
        """;

    private const string SeenSql = """
        UPDATE library_catalog SET job_id = @job, scanned_at = now(), removed_at = NULL
        WHERE library_id = @library AND relative_path = ANY(@paths)
        """;

    private const string RemovedSql = """
        UPDATE library_catalog SET removed_at = now()
        WHERE library_id = @library AND removed_at IS NULL AND scanned_at < @walk_started
        """;

    public async Task<Dictionary<string, CatalogFacts>> LoadAsync(string libraryId, CancellationToken cancellationToken)
    {
        var facts = new Dictionary<string, CatalogFacts>(StringComparer.Ordinal);
        await using var command = dataSource.CreateCommand(LoadSql);
        command.Parameters.AddWithValue("library", libraryId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            facts[reader.GetString(0)] = new CatalogFacts(reader.GetInt64(1), reader.GetFieldValue<DateTimeOffset>(2), reader.GetBoolean(3), reader.GetBoolean(4));
        }

        return facts;
    }

    /// <summary>The database's clock: when a walk starts, to tell later which rows it did not see.</summary>
    public async Task<DateTimeOffset> NowAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT now()");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return reader.GetFieldValue<DateTimeOffset>(0);
    }

    /// <summary>Writes the hashed files and marks the unchanged ones seen, in one round trip.</summary>
    public async Task WriteAsync(string libraryId, string jobId, IReadOnlyList<CatalogRow> rows, CancellationToken cancellationToken)
    {
        if (rows.Count == 0)
        {
            return;
        }

        var hashed = rows.Where(r => r.Sha256 is not null).ToList();
        var seen = rows.Where(r => r.Sha256 is null).Select(r => r.RelativePath).ToArray();
        await using var batch = dataSource.CreateBatch();
        if (hashed.Count > 0)
        {
            var upsert = new NpgsqlBatchCommand(UpsertSql);
            upsert.Parameters.AddWithValue("library", libraryId);
            upsert.Parameters.AddWithValue("job", jobId);
            SqlArrays.Add(upsert, "paths", NpgsqlDbType.Text, hashed.Select(r => r.RelativePath));
            SqlArrays.Add(upsert, "sizes", NpgsqlDbType.Bigint, hashed.Select(r => r.Size));
            SqlArrays.Add(upsert, "modified", NpgsqlDbType.TimestampTz, hashed.Select(r => r.ModifiedAt.UtcDateTime));
            SqlArrays.Add(upsert, "shas", NpgsqlDbType.Bytea, hashed.Select(r => r.Sha256!));
            batch.BatchCommands.Add(upsert);
        }

        if (seen.Length > 0)
        {
            var mark = new NpgsqlBatchCommand(SeenSql);
            mark.Parameters.AddWithValue("library", libraryId);
            mark.Parameters.AddWithValue("job", jobId);
            SqlArrays.Add(mark, "paths", NpgsqlDbType.Text, seen);
            batch.BatchCommands.Add(mark);
        }

        await batch.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Marks removed the files no walk since <paramref name="walkStarted"/> has seen; returns how many.</summary>
    public async Task<int> MarkRemovedAsync(string libraryId, DateTimeOffset walkStarted, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(RemovedSql);
        command.Parameters.AddWithValue("library", libraryId);
        command.Parameters.AddWithValue("walk_started", walkStarted);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
