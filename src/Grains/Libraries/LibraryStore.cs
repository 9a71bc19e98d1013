using System.Text.Json;
using Npgsql;
using NpgsqlTypes;

namespace OrleansJobs.Libraries;

/// <summary>
/// The <c>libraries</c> table: every library's definition, for listings and for the one rule that
/// spans libraries (no root may contain another's). Written by the library grains.
/// </summary>
public sealed class LibraryStore(NpgsqlDataSource dataSource)
{
    // One writer at a time decides about roots, so two libraries created at once cannot overlap.
    private const string LockRootsSql = "SELECT pg_advisory_xact_lock(hashtext('orleansjobs.library_roots'))";

    private const string OverlapSql = """
        SELECT library_id FROM libraries
        WHERE library_id <> @id AND (root = @root OR starts_with(root, @root || '/') OR starts_with(@root, root || '/'))
        LIMIT 1
        """;

    private const string UpsertSql = """
        INSERT INTO libraries (library_id, name, root, settings, created_at, updated_at, version)
        VALUES (@id, @name, @root, @settings, @created, @updated, @version)
        ON CONFLICT (library_id) DO UPDATE SET name = excluded.name, root = excluded.root, settings = excluded.settings,
            updated_at = excluded.updated_at, version = excluded.version
        WHERE libraries.version <= excluded.version
        """;

    private const string DeleteSql = """
        DELETE FROM library_catalog WHERE library_id = @id;
        DELETE FROM file_operations WHERE library_id = @id;
        DELETE FROM libraries WHERE library_id = @id;
        """;

    /// <summary>
    /// Records the library unless its root overlaps another library's; returns that library's id, or
    /// null when recorded.
    /// </summary>
    public async Task<string?> ClaimRootAsync(string id, LibraryState library, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var command = new NpgsqlCommand(LockRootsSql, connection, transaction))
        {
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var command = new NpgsqlCommand(OverlapSql, connection, transaction))
        {
            command.Parameters.AddWithValue("id", id);
            command.Parameters.AddWithValue("root", library.Root);
            if (await command.ExecuteScalarAsync(cancellationToken) is string other)
            {
                return other;
            }
        }

        await using (var command = new NpgsqlCommand(UpsertSql, connection, transaction))
        {
            AddRow(command, id, library);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return null;
    }

    /// <summary>Writes the library's row (a newer version wins).</summary>
    public async Task SaveAsync(string id, LibraryState library, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(UpsertSql);
        AddRow(command, id, library);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Deletes the library's row and its catalog.</summary>
    public async Task DeleteAsync(string id, CancellationToken cancellationToken = default)
    {
        await using var batch = dataSource.CreateBatch();
        foreach (var sql in DeleteSql.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var command = new NpgsqlBatchCommand(sql);
            command.Parameters.AddWithValue("id", id);
            batch.BatchCommands.Add(command);
        }

        await batch.ExecuteNonQueryAsync(cancellationToken);
    }

    private static void AddRow(NpgsqlCommand command, string id, LibraryState library)
    {
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("name", library.Name);
        command.Parameters.AddWithValue("root", library.Root);
        command.Parameters.AddWithValue("settings", NpgsqlDbType.Jsonb, JsonSerializer.Serialize(library.Settings, JsonOptions));
        command.Parameters.AddWithValue("created", library.CreatedAt);
        command.Parameters.AddWithValue("updated", library.UpdatedAt);
        command.Parameters.AddWithValue("version", library.Version);
    }

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);
}
