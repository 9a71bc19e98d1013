using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace OrleansJobs.Storage;

/// <summary>One schema script: its version (from the file name), name and text.</summary>
public sealed record SchemaScript(int Version, string Name, string Sql)
{
    /// <summary>SHA-256 of the script with line endings normalized, recorded when applied.</summary>
    public string Checksum { get; } =
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Sql.ReplaceLineEndings("\n"))));
}

/// <summary>What a migration run did.</summary>
public sealed record SchemaMigrationResult(IReadOnlyList<int> Applied, int CurrentVersion);

/// <summary>
/// Applies the scripts of <c>deploy/schema</c> (embedded in this assembly) in version order, each
/// in its own transaction together with its row in <c>schema_version</c>. Safe when several silos
/// start at once: the whole run holds a PostgreSQL advisory lock, so one applies and the others
/// find the work done. An applied script whose text has changed is refused rather than re-run.
/// </summary>
public sealed class SchemaMigrator(string connectionString, ILogger? logger = null)
{
    /// <summary>Advisory lock key for schema changes ("OJSCHEMA" as ASCII).</summary>
    public const long AdvisoryLockKey = 0x4F4A_5343_4845_4D41;

    private const string ResourcePrefix = "OrleansJobs.Schema.";

    private readonly ILogger _logger = logger ?? NullLogger.Instance;

    /// <summary>The scripts shipped in this build, in version order.</summary>
    public static IReadOnlyList<SchemaScript> Scripts { get; } = LoadScripts();

    /// <summary>The newest version this build knows.</summary>
    public static int LatestVersion => Scripts[^1].Version;

    /// <summary>Applies every script not yet applied.</summary>
    public async Task<SchemaMigrationResult> ApplyAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);

        // Session-level lock: released by the finally below, or by the server if this process dies.
        await ExecuteAsync(connection, $"SELECT pg_advisory_lock({AdvisoryLockKey})", cancellationToken);
        try
        {
            await ExecuteAsync(connection, """
                CREATE TABLE IF NOT EXISTS schema_version (
                    version     integer     PRIMARY KEY,
                    name        text        NOT NULL,
                    checksum    text        NOT NULL,
                    applied_at  timestamptz NOT NULL DEFAULT now()
                )
                """, cancellationToken);

            var applied = await ReadAppliedAsync(connection, cancellationToken);
            var newlyApplied = new List<int>();
            foreach (var script in Scripts)
            {
                if (applied.TryGetValue(script.Version, out var checksum))
                {
                    if (!string.Equals(checksum, script.Checksum, StringComparison.Ordinal))
                    {
                        throw new InvalidOperationException(
                            $"Schema script {script.Name} (version {script.Version}) was changed after it was applied " +
                            "to this database. Applied scripts are immutable: add a new script instead.");
                    }

                    continue;
                }

                await ApplyScriptAsync(connection, script, cancellationToken);
                newlyApplied.Add(script.Version);
            }

            var unknown = applied.Keys.Where(v => v > LatestVersion).ToList();
            if (unknown.Count > 0)
            {
                // A newer build migrated this database; running older code against it is allowed
                // (scripts only add), but say so.
                _logger.LogWarning("Database has schema versions {Versions} newer than this build knows ({Latest})",
                    string.Join(",", unknown), LatestVersion);
            }

            return new SchemaMigrationResult(newlyApplied, Math.Max(LatestVersion, applied.Keys.DefaultIfEmpty(0).Max()));
        }
        finally
        {
            await ExecuteAsync(connection, $"SELECT pg_advisory_unlock({AdvisoryLockKey})", CancellationToken.None);
        }
    }

    /// <summary>
    /// Applies the schema, retrying while the server is not reachable yet (it may be starting
    /// alongside this process). Errors in the scripts themselves are not retried.
    /// </summary>
    public async Task<SchemaMigrationResult> ApplyWithRetryAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        var delay = TimeSpan.FromMilliseconds(200);
        while (true)
        {
            try
            {
                return await ApplyAsync(cancellationToken);
            }
            catch (Exception ex) when (IsTransient(ex) && DateTime.UtcNow + delay < deadline)
            {
                _logger.LogWarning("Database not reachable yet ({Message}); retrying in {Delay} ms", ex.Message, delay.TotalMilliseconds);
                await Task.Delay(delay, cancellationToken);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 2000));
            }
        }
    }

    /// <summary>True for errors that mean "server not there (yet)", not "bad SQL".</summary>
    public static bool IsTransient(Exception ex) => ex switch
    {
        NpgsqlException { IsTransient: true } => true,
        PostgresException pg => pg.SqlState is "57P03" /* cannot_connect_now */ or "57P01" /* admin_shutdown */ or "53300" /* too_many_connections */,
        NpgsqlException { InnerException: System.Net.Sockets.SocketException or IOException or TimeoutException } => true,
        _ => false,
    };

    private async Task ApplyScriptAsync(NpgsqlConnection connection, SchemaScript script, CancellationToken cancellationToken)
    {
        _logger.LogInformation("Applying schema script {Name} (version {Version})", script.Name, script.Version);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var command = new NpgsqlCommand(script.Sql, connection, transaction))
        {
            command.CommandTimeout = 300;
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await using (var record = new NpgsqlCommand(
            "INSERT INTO schema_version (version, name, checksum) VALUES (@version, @name, @checksum)", connection, transaction))
        {
            record.Parameters.AddWithValue("version", script.Version);
            record.Parameters.AddWithValue("name", script.Name);
            record.Parameters.AddWithValue("checksum", script.Checksum);
            await record.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    private static async Task<Dictionary<int, string>> ReadAppliedAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var applied = new Dictionary<int, string>();
        await using var command = new NpgsqlCommand("SELECT version, checksum FROM schema_version", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            applied[reader.GetInt32(0)] = reader.GetString(1);
        }

        return applied;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static List<SchemaScript> LoadScripts()
    {
        var assembly = typeof(SchemaMigrator).Assembly;
        var scripts = new List<SchemaScript>();
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            var name = resource[ResourcePrefix.Length..];
            var digits = new string(name.TakeWhile(char.IsAsciiDigit).ToArray());
            if (digits.Length == 0)
            {
                throw new InvalidOperationException($"Schema script {name} must start with its version number");
            }

            scripts.Add(new SchemaScript(int.Parse(digits, CultureInfo.InvariantCulture), name, ReadResource(assembly, resource)));
        }

        scripts.Sort((a, b) => a.Version.CompareTo(b.Version));
        var duplicate = scripts.GroupBy(s => s.Version).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw new InvalidOperationException($"Two schema scripts share version {duplicate.Key}");
        }

        return scripts.Count > 0 ? scripts : throw new InvalidOperationException("No schema scripts are embedded");
    }

    private static string ReadResource(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }
}
