using OrleansJobs.Hosting;
using OrleansJobs.Storage;

namespace OrleansJobs.Silo.Hosting;

/// <summary><c>OrleansJobs.Silo migrate</c>: applies the schema to the configured database and exits.</summary>
public static class SchemaCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        var builder = Host.CreateApplicationBuilder(args);
        using var host = builder.Build();
        var logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("OrleansJobs.Schema");
        try
        {
            var connectionString = OrleansJobsDatabase.GetConnectionString(builder.Configuration);
            var result = await new SchemaMigrator(connectionString, logger).ApplyWithRetryAsync(TimeSpan.FromSeconds(60));
            Console.WriteLine(result.Applied.Count == 0
                ? $"schema is current (version {result.CurrentVersion})"
                : $"applied schema versions {string.Join(", ", result.Applied)}; now at version {result.CurrentVersion}");
            return 0;
        }
        catch (Exception ex) when (ex is InvalidOperationException or Npgsql.NpgsqlException)
        {
            logger.LogError(ex, "Schema migration failed");
            return 1;
        }
    }
}
