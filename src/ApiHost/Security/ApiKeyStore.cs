using Npgsql;

namespace OrleansJobs.ApiHost.Security;

/// <summary>The <c>api_keys</c> table: keys made over the API (configured keys never touch it).</summary>
public sealed class ApiKeyStore(NpgsqlDataSource dataSource)
{
    private const string Columns = "key_id, name, key_sha256, roles, job_types, devices, created_at, created_by, expires_at, revoked_at, revoked_by";

    /// <summary>What tells a host that keys changed: how many there are and the newest change.</summary>
    public async Task<(long Count, DateTimeOffset? Changed)> VersionAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT count(*), max(changed_at) FROM api_keys");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetInt64(0), reader.IsDBNull(1) ? null : reader.GetFieldValue<DateTimeOffset>(1));
    }

    public Task<List<ApiKey>> ReadAllAsync(CancellationToken cancellationToken) => QueryAsync(null, cancellationToken);

    /// <summary>One key by its id; null when there is none.</summary>
    public async Task<ApiKey?> ReadAsync(string id, CancellationToken cancellationToken) =>
        (await QueryAsync(id, cancellationToken)).SingleOrDefault();

    private async Task<List<ApiKey>> QueryAsync(string? id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM api_keys{(id is null ? "" : " WHERE key_id = @id")}");
        if (id is not null)
        {
            command.Parameters.AddWithValue("id", id);
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var keys = new List<ApiKey>();
        while (await reader.ReadAsync(cancellationToken))
        {
            keys.Add(new ApiKey(
                reader.GetString(0), reader.GetString(1), reader.GetFieldValue<string[]>(3), reader.GetFieldValue<string[]>(4),
                reader.GetFieldValue<string[]>(5), reader.GetFieldValue<DateTimeOffset>(6), reader.GetString(7),
                reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8),
                reader.IsDBNull(9) ? null : reader.GetFieldValue<DateTimeOffset>(9),
                reader.IsDBNull(10) ? null : reader.GetString(10), ApiKey.FromApi, reader.GetFieldValue<byte[]>(2)));
        }

        return keys;
    }

    public async Task InsertAsync(ApiKey key, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"""
            INSERT INTO api_keys ({Columns}, changed_at)
            VALUES (@id, @name, @hash, @roles, @types, @devices, @created, @by, @expires, NULL, NULL, clock_timestamp())
            """);
        command.Parameters.AddWithValue("id", key.Id);
        command.Parameters.AddWithValue("name", key.Name);
        command.Parameters.AddWithValue("hash", key.Sha256);
        command.Parameters.AddWithValue("roles", key.Roles.ToArray());
        command.Parameters.AddWithValue("types", key.JobTypes.ToArray());
        command.Parameters.AddWithValue("devices", key.Devices.ToArray());
        command.Parameters.AddWithValue("created", key.CreatedAt);
        command.Parameters.AddWithValue("by", key.CreatedBy);
        command.Parameters.AddWithValue("expires", (object?)key.ExpiresAt ?? DBNull.Value);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Revokes the key; false when there is no such key. Revoking a revoked key keeps the first revocation.</summary>
    public async Task<bool> RevokeAsync(string id, DateTimeOffset at, string by, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            UPDATE api_keys SET revoked_at = coalesce(revoked_at, @at), revoked_by = coalesce(revoked_by, @by), changed_at = clock_timestamp()
            WHERE key_id = @id
            """);
        command.Parameters.AddWithValue("id", id);
        command.Parameters.AddWithValue("at", at);
        command.Parameters.AddWithValue("by", by);
        return await command.ExecuteNonQueryAsync(cancellationToken) == 1;
    }
}
