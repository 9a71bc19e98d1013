
namespace OrleansJobs.Tests.Infrastructure;

/// <summary>
/// One migrated database shared by the tests of a class. Process tests run their own cluster id on it,
/// so clusters never see each other's membership rows; handler tests use their own job ids.
/// </summary>
public sealed class MigratedDatabaseFixture : IAsyncLifetime
{
    private TestDatabase? _database;

    public TestDatabase Database => _database ?? throw new InvalidOperationException("fixture not initialized");

    public async Task InitializeAsync()
    {
        _database = await PostgresServer.CreateDatabaseAsync("shared");
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
