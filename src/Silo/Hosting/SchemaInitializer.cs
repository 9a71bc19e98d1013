using Microsoft.Extensions.Options;
using OrleansJobs.Storage;

namespace OrleansJobs.Silo.Hosting;

/// <summary>
/// Brings the database schema up to date before the silo joins the cluster. Registered ahead of
/// Orleans, so clustering, storage and reminders never start against missing tables.
/// </summary>
public sealed class SchemaInitializer(
    DatabaseConnection database,
    IOptions<SiloHostOptions> options,
    ILogger<SchemaInitializer> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        if (!settings.ApplySchemaOnStart)
        {
            logger.LogInformation("Schema application on start is disabled");
            return;
        }

        var migrator = new SchemaMigrator(database.ConnectionString, logger);
        var result = await migrator.ApplyWithRetryAsync(settings.DatabaseWaitTimeout, cancellationToken);
        logger.LogInformation("Database schema at version {Version}; applied now: [{Applied}]",
            result.CurrentVersion, string.Join(", ", result.Applied));
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>The resolved PostgreSQL connection string, as one injectable value.</summary>
public sealed record DatabaseConnection(string ConnectionString);
