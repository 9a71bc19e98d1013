using OrleansJobs.Tests.Infrastructure;

namespace OrleansJobs.Tests.EndToEnd;

/// <summary>
/// One migrated database shared by the process tests; each test runs its own cluster id on it,
/// so clusters never see each other's membership rows.
/// </summary>
public sealed class ProcessDatabaseFixture : IAsyncLifetime
{
    private TestDatabase? _database;

    public TestDatabase Database => _database ?? throw new InvalidOperationException("fixture not initialized");

    public async Task InitializeAsync()
    {
        _database = await PostgresServer.CreateDatabaseAsync("process");
        await _database.ApplySchemaAsync();
    }

    public async Task DisposeAsync()
    {
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }
}
