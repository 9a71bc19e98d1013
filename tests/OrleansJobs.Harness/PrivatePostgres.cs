using Npgsql;
using OrleansJobs.Hosting;

namespace OrleansJobs.Harness;

/// <summary>
/// A PostgreSQL server of one test's own, provisioned by <c>deploy/pg.sh</c> in a temporary folder
/// on a free loopback port, so the test can stop and start it without disturbing the other tests.
/// Disposing it stops it and deletes its data.
/// </summary>
public sealed class PrivatePostgres : IAsyncDisposable
{
    private readonly string _dataDirectory;
    private readonly Dictionary<string, string?> _environment;

    private PrivatePostgres(string dataDirectory, int port)
    {
        _dataDirectory = dataDirectory;
        _environment = new()
        {
            [OrleansJobsDatabase.EnvironmentVariable] = null,
            ["ORLEANSJOBS_DATA_DIR"] = dataDirectory,
            ["ORLEANSJOBS_PG_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
    }

    /// <summary>Connection string of the server's own database, for administrative commands.</summary>
    public string AdminConnectionString { get; private set; } = "";

    private static string Script => Path.Combine(Repository.Root, "deploy", "pg.sh");

    public static async Task<PrivatePostgres> StartAsync()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"oj-pg-{Guid.NewGuid():N}"[..18]);
        Directory.CreateDirectory(directory);
        var server = new PrivatePostgres(directory, FreePort.Next());
        await server.StartAgainAsync();
        server.AdminConnectionString = (await PostgresServer.RunAsync(Script, "url", server._environment)).Trim();
        return server;
    }

    /// <summary>Starts the (stopped) server again, waiting until it accepts connections.</summary>
    public Task StartAgainAsync() => PostgresServer.RunAsync(Script, "start", _environment);

    /// <summary>Stops the server (fast shutdown: open connections are closed at once).</summary>
    public async Task StopAsync()
    {
        await PostgresServer.RunAsync(Script, "stop", _environment);
        NpgsqlConnection.ClearAllPools();
    }

    public Task<TestDatabase> CreateDatabaseAsync(string purpose) => PostgresServer.CreateDatabaseAsync(AdminConnectionString, purpose);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await PostgresServer.RunAsync(Script, "destroy", _environment);
        }
        finally
        {
            try
            {
                Directory.Delete(_dataDirectory, recursive: true);
            }
            catch (IOException)
            {
                // Left in the temporary folder.
            }
            catch (UnauthorizedAccessException)
            {
                // Left in the temporary folder.
            }
        }
    }
}
