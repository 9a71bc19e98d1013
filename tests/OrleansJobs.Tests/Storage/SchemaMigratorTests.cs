using Npgsql;
using OrleansJobs.Storage;

namespace OrleansJobs.Tests.Storage;

public sealed class SchemaMigratorTests
{
    /// <summary>Every statement the three Orleans providers read at start-up.</summary>
    public static readonly string[] OrleansQueryKeys =
    [
        // Clustering
        "UpdateIAmAlivetimeKey", "InsertMembershipVersionKey", "InsertMembershipKey", "UpdateMembershipKey",
        "MembershipReadRowKey", "MembershipReadAllKey", "DeleteMembershipTableEntriesKey", "GatewaysQueryKey",
        "CleanupDefunctSiloEntriesKey",
        // Persistence
        "WriteToStorageKey", "ReadFromStorageKey", "ClearStorageKey", "DeleteStorageKey",
        // Reminders
        "ReadReminderRowsKey", "ReadReminderRowKey", "ReadRangeRows1Key", "ReadRangeRows2Key",
        "UpsertReminderRowKey", "DeleteReminderRowKey", "DeleteReminderRowsKey",
    ];

    private static readonly string[] Tables =
    [
        "orleansquery", "orleansmembershipversiontable", "orleansmembershiptable", "orleansstorage",
        "orleansreminderstable", "grain_state", "job_index", "job_journal", "library_catalog", "file_operations", "schema_version",
    ];

    [Fact]
    public void Scripts_AreEmbeddedInVersionOrderWithoutGaps()
    {
        var versions = SchemaMigrator.Scripts.Select(s => s.Version).ToList();

        Assert.Equal(Enumerable.Range(1, versions.Count), versions);
        Assert.All(SchemaMigrator.Scripts, s => Assert.False(string.IsNullOrWhiteSpace(s.Sql), s.Name));
    }

    [Fact]
    public async Task Apply_OnEmptyDatabase_CreatesEveryTableAndEveryProviderQuery()
    {
        await using var database = await PostgresServer.CreateDatabaseAsync("schema");

        var result = await database.ApplySchemaAsync();

        Assert.Equal(SchemaMigrator.Scripts.Select(s => s.Version), result.Applied);
        Assert.Equal(SchemaMigrator.LatestVersion, result.CurrentVersion);
        var tables = await database.QueryAsync(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'", r => r.GetString(0));
        Assert.All(Tables, t => Assert.Contains(t, tables));
        var keys = await database.QueryAsync("SELECT querykey FROM orleansquery", r => r.GetString(0));
        Assert.Equal(OrleansQueryKeys.Order(StringComparer.Ordinal), keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Apply_Twice_SecondRunAppliesNothingAndKeepsData()
    {
        await using var database = await PostgresServer.CreateDatabaseAsync("schema");
        await database.ApplySchemaAsync();
        await database.ExecuteAsync("""
            INSERT INTO job_index (job_id, job_type, status, created_at, updated_at, state_version)
            VALUES ('j1', 'synthetic', 'Queued', now(), now(), 1)
            """);

        var second = await database.ApplySchemaAsync();

        Assert.Empty(second.Applied);
        Assert.Equal(SchemaMigrator.Scripts.Count, await database.ScalarAsync<int>("SELECT count(*) FROM schema_version"));
        Assert.Equal(1, await database.ScalarAsync<int>("SELECT count(*) FROM job_index WHERE job_id = 'j1'"));
    }

    [Fact]
    public async Task Apply_FromEightConnectionsAtOnce_AppliesEachScriptExactlyOnce()
    {
        await using var database = await PostgresServer.CreateDatabaseAsync("schema");
        using var start = new ManualResetEventSlim();

        // Eight "silos" start together; each must succeed, and together they apply every script once.
        var runs = Enumerable.Range(0, 8)
            .Select(_ => Task.Run(async () =>
            {
                start.Wait();
                return await new SchemaMigrator(database.ConnectionString).ApplyAsync();
            }))
            .ToList();
        start.Set();
        var results = await Task.WhenAll(runs);

        var applied = results.SelectMany(r => r.Applied).Order().ToList();
        Assert.Equal(SchemaMigrator.Scripts.Select(s => s.Version), applied);
        Assert.All(results, r => Assert.Equal(SchemaMigrator.LatestVersion, r.CurrentVersion));
        Assert.Equal(SchemaMigrator.Scripts.Count, await database.ScalarAsync<int>("SELECT count(*) FROM schema_version"));
        Assert.Equal(OrleansQueryKeys.Length, await database.ScalarAsync<int>("SELECT count(*) FROM orleansquery"));
    }

    [Fact]
    public async Task Apply_WhenAnAppliedScriptChanged_RefusesAndChangesNothing()
    {
        await using var database = await PostgresServer.CreateDatabaseAsync("schema");
        await database.ApplySchemaAsync();
        await database.ExecuteAsync("UPDATE schema_version SET checksum = 'edited' WHERE version = 3");
        await database.ExecuteAsync("DELETE FROM schema_version WHERE version = 5");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => database.ApplySchemaAsync());

        Assert.Contains("0003", error.Message, StringComparison.Ordinal);
        // The refused run stopped before version 5, and released its advisory lock.
        Assert.Equal(0, await database.ScalarAsync<int>("SELECT count(*) FROM schema_version WHERE version = 5"));
        Assert.Equal(0, await database.ScalarAsync<int>(
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database " +
            $"WHERE d.datname = current_database() AND l.locktype = 'advisory' AND l.objid = {SchemaMigrator.AdvisoryLockKey & 0xFFFFFFFF}"));
    }

    [Fact]
    public async Task ApplyWithRetry_WhenServerUnreachable_GivesUpAtItsDeadline()
    {
        var unreachable = new NpgsqlConnectionStringBuilder(await PostgresServer.GetAdminConnectionStringAsync())
        {
            Host = "127.0.0.1",
            Port = FreePort.Next(),
            Timeout = 2,
        };
        var migrator = new SchemaMigrator(unreachable.ConnectionString);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => migrator.ApplyWithRetryAsync(TimeSpan.FromSeconds(2)));

        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(15));
    }
}
