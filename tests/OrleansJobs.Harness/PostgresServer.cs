using System.Diagnostics;
using Npgsql;
using OrleansJobs.Hosting;

namespace OrleansJobs.Harness;

/// <summary>
/// The PostgreSQL server the tests run against: the one named by <c>ORLEANSJOBS_DB</c>, or else
/// the checkout's private local cluster, provisioned and started through <c>deploy/pg.sh</c> (the
/// same script <c>deploy/up.sh</c> uses). Each fixture gets a database of its own from it.
/// </summary>
public static class PostgresServer
{
    private static readonly Lazy<Task<string>> Server = new(ResolveAsync);

    /// <summary>Connection string of the server's configured database, for administrative commands.</summary>
    public static Task<string> GetAdminConnectionStringAsync() => Server.Value;

    /// <summary>Creates an empty database with a unique name; the caller disposes it to drop it.</summary>
    public static async Task<TestDatabase> CreateDatabaseAsync(string purpose) => await CreateDatabaseAsync(await Server.Value, purpose);

    /// <summary>Creates an empty database with a unique name on the server of <paramref name="admin"/>.</summary>
    public static async Task<TestDatabase> CreateDatabaseAsync(string admin, string purpose)
    {
        var name = $"oj_test_{purpose.ToLowerInvariant()}_{Guid.NewGuid():N}"[..40];
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await create.ExecuteNonQueryAsync();
        }

        var builder = new NpgsqlConnectionStringBuilder(admin) { Database = name };
        return new TestDatabase(name, builder.ConnectionString, admin);
    }

    private static async Task<string> ResolveAsync()
    {
        var configured = Environment.GetEnvironmentVariable(OrleansJobsDatabase.EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return configured;
        }

        var script = Path.Combine(Repository.Root, "deploy", "pg.sh");
        await RunAsync(script, "start");
        return (await RunAsync(script, "url")).Trim();
    }

    /// <summary>Runs <c>deploy/pg.sh verb</c>, with <paramref name="environment"/> set (a null value unsets); returns its output.</summary>
    internal static async Task<string> RunAsync(string script, string verb, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var start = new ProcessStartInfo("bash", [script, verb])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (key, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                start.Environment.Remove(key);
            }
            else
            {
                start.Environment[key] = value;
            }
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start bash");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"deploy/pg.sh {verb} failed ({process.ExitCode}): {await stderr}");
        }

        return await stdout;
    }
}
