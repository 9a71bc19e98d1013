using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Npgsql;
using OrleansJobs.ApiHost.Apis;
using OrleansJobs.ApiHost.Hosting;
using OrleansJobs.Jobs;
using OrleansJobs.Libraries;

namespace OrleansJobs.ApiHost.ReadModel;

/// <summary>Libraries and their catalogs: the live grain within the read budget, else the <c>libraries</c> table; listings from the tables.</summary>
public sealed class LibraryReads(IClusterClient cluster, NpgsqlDataSource database, IOptions<ApiHostOptions> options)
{
    private static readonly JsonSerializerOptions SettingsJson = new(JsonSerializerDefaults.Web);

    private const string SummaryColumns = $"""
        l.library_id, l.name, l.root, l.created_at, l.updated_at,
        (SELECT j.job_id FROM job_index j WHERE j.library_id = l.library_id AND j.status IN ({JobStatusSql.Running}) LIMIT 1)
        """;

    /// <summary>The library (live, with its lock), or from the table with <c>siloUnreachable</c> when its silo does not answer in time; null when none.</summary>
    public async Task<LibraryResponse?> ReadAsync(string id, CancellationToken cancellationToken)
    {
        var (answered, library) = await LiveCalls.WithinAsync(cluster.GetGrain<ILibraryGrain>(id).GetAsync(), options.Value.LiveReadTimeout, cancellationToken);
        if (answered)
        {
            return library is null ? null : LibraryResponse.From(library);
        }

        await using var command = database.CreateCommand("SELECT name, root, settings, created_at, updated_at, version FROM libraries WHERE library_id = @id");
        command.Parameters.AddWithValue("id", id);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        var settings = JsonSerializer.Deserialize<LibrarySettings>(reader.GetString(2), SettingsJson) ?? new LibrarySettings();
        return new LibraryResponse(id, reader.GetString(0), reader.GetString(1), settings, reader.GetFieldValue<DateTimeOffset>(3),
            reader.GetFieldValue<DateTimeOffset>(4), reader.GetInt64(5), null, [], 0, SiloUnreachable: true);
    }

    public async Task<LibraryPage> ListAsync(ListLibrariesQuery query, CancellationToken cancellationToken)
    {
        var limit = query.Limit ?? ListJobsQuery.DefaultLimit;
        await using var command = database.CreateCommand(
            $"SELECT {SummaryColumns} FROM libraries l WHERE (@after::text IS NULL OR l.library_id > @after) ORDER BY l.library_id LIMIT @limit");
        command.Parameters.AddWithValue("after", (object?)query.Cursor ?? DBNull.Value);
        command.Parameters.AddWithValue("limit", limit + 1);
        var items = new List<LibrarySummary>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            items.Add(new LibrarySummary(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetFieldValue<DateTimeOffset>(3),
                reader.GetFieldValue<DateTimeOffset>(4), reader.IsDBNull(5) ? null : reader.GetString(5)));
        }

        string? next = null;
        if (items.Count > limit)
        {
            items.RemoveAt(items.Count - 1);
            next = items[^1].Id;
        }

        return new LibraryPage(items, next);
    }

    /// <summary>A page of the library's catalog, ordered by path.</summary>
    public async Task<CatalogPage> CatalogAsync(string id, CatalogQuery query, CancellationToken cancellationToken)
    {
        var limit = query.Limit ?? ListJobsQuery.DefaultLimit;
        var sql = new StringBuilder("""
            SELECT c.relative_path, c.size_bytes, c.modified_at, c.sha256, c.scanned_at, c.removed_at, c.job_id
            FROM library_catalog c WHERE c.library_id = @id
            """);
        await using var command = database.CreateCommand();
        command.Parameters.AddWithValue("id", id);
        if (query.IncludeRemoved != true)
        {
            sql.Append(" AND c.removed_at IS NULL");
        }

        if (query.Prefix is { Length: > 0 } prefix)
        {
            sql.Append(" AND starts_with(c.relative_path, @prefix)");
            command.Parameters.AddWithValue("prefix", prefix);
        }

        if (query.Sha256 is { } sha)
        {
            sql.Append(" AND c.sha256 = @sha");
            command.Parameters.AddWithValue("sha", Convert.FromHexString(sha));
        }

        if (query.Duplicates == true)
        {
            sql.Append("""
                 AND c.sha256 IS NOT NULL AND EXISTS (SELECT 1 FROM library_catalog d
                     WHERE d.library_id = c.library_id AND d.sha256 = c.sha256 AND d.relative_path <> c.relative_path AND d.removed_at IS NULL)
                """);
        }

        if (query.Cursor is { } after)
        {
            sql.Append(" AND c.relative_path > @after");
            command.Parameters.AddWithValue("after", after.Path);
        }

        sql.Append(" ORDER BY c.relative_path LIMIT @limit");
        command.Parameters.AddWithValue("limit", limit + 1);
        command.CommandText = sql.ToString();
        var items = new List<CatalogEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            items.Add(new CatalogEntry(
                reader.GetString(0), reader.GetInt64(1), reader.GetFieldValue<DateTimeOffset>(2),
                reader.IsDBNull(3) ? null : Convert.ToHexStringLower(reader.GetFieldValue<byte[]>(3)), reader.GetFieldValue<DateTimeOffset>(4),
                reader.IsDBNull(5) ? null : reader.GetFieldValue<DateTimeOffset>(5), reader.IsDBNull(6) ? null : reader.GetString(6)));
        }

        string? next = null;
        if (items.Count > limit)
        {
            items.RemoveAt(items.Count - 1);
            next = new PathCursor(items[^1].Path).ToString();
        }

        return new CatalogPage(items, next);
    }
}
