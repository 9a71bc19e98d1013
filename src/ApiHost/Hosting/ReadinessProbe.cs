using System.Text.Json.Serialization;
using HealthChecks.NpgSql;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace OrleansJobs.ApiHost.Hosting;

/// <summary>Health of one dependency as reported by <c>/health/ready</c>.</summary>
public sealed record DatabaseHealth(bool Healthy, double LatencyMs, int? SchemaVersion, string? Error);

/// <summary>What the API host sees of the cluster.</summary>
public sealed record ClusterHealth(bool Healthy, int ActiveSilos, IReadOnlyList<string> Silos, double LatencyMs, string? Error);

/// <summary>Body of <c>/health/ready</c>.</summary>
public sealed record ReadinessReport(string Status, DatabaseHealth Database, ClusterHealth Cluster, DateTimeOffset CheckedAt)
{
    [JsonIgnore]
    public bool IsReady => Database.Healthy && Cluster.Healthy;
}

/// <summary>
/// Readiness on ASP.NET health checks: the database (the maintained PostgreSQL check, reading our
/// schema version) and the cluster (<see cref="ClusterHealthCheck"/>), run at once, each bounded by
/// <see cref="ApiHostOptions.ReadinessCheckTimeout"/>. The report keeps the JSON shape clients know.
/// </summary>
public sealed class ReadinessProbe(HealthCheckService health, TimeProvider time)
{
    /// <summary>The tag of the checks readiness runs.</summary>
    public const string ReadyTag = "ready";

    public const string DatabaseCheck = "database";

    private const string SchemaVersionKey = "schemaVersion";

    public async Task<ReadinessReport> CheckAsync(CancellationToken cancellationToken)
    {
        var report = await health.CheckHealthAsync(r => r.Tags.Contains(ReadyTag), cancellationToken);
        var database = report.Entries[DatabaseCheck];
        var cluster = report.Entries[ClusterHealthCheck.Name];
        var silos = cluster.Data.TryGetValue(ClusterHealthCheck.SilosKey, out var names) && names is string[] known ? known : [];
        var result = new ReadinessReport(
            "Unknown",
            new DatabaseHealth(
                database.Status == HealthStatus.Healthy,
                Milliseconds(database.Duration),
                database.Data.TryGetValue(SchemaVersionKey, out var version) && version is int v ? v : null,
                Error(database)),
            new ClusterHealth(cluster.Status == HealthStatus.Healthy && silos.Length > 0, silos.Length, silos, Milliseconds(cluster.Duration), Error(cluster)),
            time.GetUtcNow());
        return result with { Status = result.IsReady ? "Healthy" : "Unhealthy" };
    }

    /// <summary>Registers the readiness checks.</summary>
    public static IServiceCollection AddReadinessChecks(IServiceCollection services, ApiHostOptions api)
    {
        services.AddSingleton<ReadinessProbe>();
        services.AddHealthChecks()
            .Add(new HealthCheckRegistration(
                DatabaseCheck,
                sp => new NpgSqlHealthCheck(new NpgSqlHealthCheckOptions(sp.GetRequiredService<NpgsqlDataSource>())
                {
                    CommandText = "SELECT max(version) FROM schema_version",
                    HealthCheckResultBuilder = version => HealthCheckResult.Healthy(
                        data: version is int v ? new Dictionary<string, object> { [SchemaVersionKey] = v } : null),
                }),
                HealthStatus.Unhealthy,
                [ReadyTag],
                api.ReadinessCheckTimeout))
            // The cluster check bounds itself; the registration's timeout is a backstop.
            .AddCheck<ClusterHealthCheck>(ClusterHealthCheck.Name, HealthStatus.Unhealthy, [ReadyTag], api.ReadinessCheckTimeout + TimeSpan.FromSeconds(1));
        return services;
    }

    private static string? Error(HealthReportEntry entry) => entry.Status == HealthStatus.Healthy ? null
        : entry.Exception is OperationCanceledException or TimeoutException ? "timed out"
        : entry.Exception?.Message ?? entry.Description;

    private static double Milliseconds(TimeSpan span) => Math.Round(span.TotalMilliseconds, 1);
}
