using Microsoft.Extensions.Configuration;

namespace OrleansJobs.Hosting;

/// <summary>Where silos and clients find the PostgreSQL database, and the names they share.</summary>
public static class OrleansJobsDatabase
{
    /// <summary>Name under <c>ConnectionStrings</c> in configuration.</summary>
    public const string ConnectionStringName = "OrleansJobs";

    /// <summary>Environment variable the scripts and tests use for the connection string.</summary>
    public const string EnvironmentVariable = "ORLEANSJOBS_DB";

    /// <summary>ADO.NET invariant Orleans uses to load Npgsql.</summary>
    public const string Invariant = "Npgsql";

    /// <summary>Grain storage provider that holds job state (the checkpoints).</summary>
    public const string JobStore = "jobs";

    /// <summary>
    /// The configured connection string: <c>ConnectionStrings:OrleansJobs</c> (appsettings,
    /// environment <c>ConnectionStrings__OrleansJobs</c>, command line), else <c>ORLEANSJOBS_DB</c>.
    /// </summary>
    public static string GetConnectionString(IConfiguration configuration)
    {
        var value = configuration.GetConnectionString(ConnectionStringName);
        if (string.IsNullOrWhiteSpace(value))
        {
            value = configuration[EnvironmentVariable];
        }

        if (string.IsNullOrWhiteSpace(value))
        {
            throw new InvalidOperationException(
                $"No database configured. Set {EnvironmentVariable} or ConnectionStrings__{ConnectionStringName} to a PostgreSQL " +
                "connection string, or start the system with deploy/up.sh, which provisions a local database.");
        }

        return value;
    }
}
