using System.Diagnostics;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;
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
/// Checks the two things a request needs: the database answers (and carries our schema) and at
/// least one silo is reachable through the client. Both checks run at once, each bounded by
/// <see cref="ApiHostOptions.ReadinessCheckTimeout"/>, so the probe never hangs.
/// </summary>
public sealed class ReadinessProbe(NpgsqlDataSource dataSource, IClusterClient client, IOptions<ApiHostOptions> options, TimeProvider time)
{
    public async Task<ReadinessReport> CheckAsync(CancellationToken cancellationToken)
    {
        var database = CheckDatabaseAsync(cancellationToken);
        var cluster = CheckClusterAsync(cancellationToken);
        await Task.WhenAll(database, cluster);
        var report = new ReadinessReport("Unknown", database.Result, cluster.Result, time.GetUtcNow());
        return report with { Status = report.IsReady ? "Healthy" : "Unhealthy" };
    }

    private async Task<DatabaseHealth> CheckDatabaseAsync(CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Value.ReadinessCheckTimeout);
        try
        {
            await using var command = dataSource.CreateCommand("SELECT max(version) FROM schema_version");
            var version = await command.ExecuteScalarAsync(timeout.Token);
            return new DatabaseHealth(true, Elapsed(started), version is int v ? v : null, null);
        }
        catch (Exception ex) when (ex is NpgsqlException or OperationCanceledException or TimeoutException)
        {
            var error = ex is OperationCanceledException ? "timed out" : ex.Message;
            return new DatabaseHealth(false, Elapsed(started), null, error);
        }
    }

    private async Task<ClusterHealth> CheckClusterAsync(CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            var hosts = await client.GetGrain<IManagementGrain>(0)
                .GetHosts(onlyActive: true, cancellationToken)
                .WaitAsync(options.Value.ReadinessCheckTimeout, cancellationToken);
            var silos = hosts.Keys.Select(s => s.ToParsableString()).Order(StringComparer.Ordinal).ToList();
            return new ClusterHealth(silos.Count > 0, silos.Count, silos, Elapsed(started), silos.Count > 0 ? null : "no active silo");
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            var error = ex is TimeoutException ? "cluster did not answer in time" : ex.Message;
            return new ClusterHealth(false, 0, [], Elapsed(started), error);
        }
    }

    private static double Elapsed(long started) => Math.Round(Stopwatch.GetElapsedTime(started).TotalMilliseconds, 1);
}
