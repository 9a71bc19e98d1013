using System.Diagnostics;
using System.Net;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;
using Npgsql;
using OrleansJobs.Hosting;
using OrleansJobs.ApiHost.ReadModel;

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
public sealed class ReadinessProbe(
    NpgsqlDataSource dataSource, IClusterClient client, Orleans.Messaging.IGatewayListProvider gatewayList, ClusterView view,
    IOptions<ApiHostOptions> options, TimeProvider time)
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
        // The management grain lives on one silo. When that silo does not answer within the live read budget
        // (frozen, or dead and not yet declared so), the membership's gateway list (read from the table, not
        // from a silo) says whether any silo serves, and the member list last seen stands in.
        Task<Dictionary<SiloAddress, SiloStatus>>? hosts = null;
        try
        {
            // Inside the try: a client that is not connected yet throws at the call itself.
            hosts = client.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true, cancellationToken);
            var answer = await hosts.WaitAsync(options.Value.LiveReadTimeout, cancellationToken);
            var silos = view.RememberSilos(answer.Keys);
            return new ClusterHealth(silos.Length > 0, silos.Length, silos, Elapsed(started), silos.Length > 0 ? null : "no active silo");
        }
        catch (TimeoutException)
        {
            // No answer yet: see below.
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return new ClusterHealth(false, 0, [], Elapsed(started), ex.Message);
        }

        try
        {
            var gateways = await gatewayList.GetGateways().WaitAsync(options.Value.ReadinessCheckTimeout, cancellationToken);
            // Each gateway names its silo's host and generation. When they are exactly the silos last seen,
            // the membership has not changed: those silos serve (one of them does not answer yet).
            var serving = gateways.Select(g => $"{g.Host}@{g.Segments[^1].Trim('/')}").ToHashSet(StringComparer.Ordinal);
            var known = view.KnownSilos ?? [];
            if (serving.Count > 0 && serving.SetEquals(known.Select(k => $"{k[..k.LastIndexOf(':')]}@{k[(k.LastIndexOf('@') + 1)..]}")))
            {
                // The table still names a silo that was killed until somebody declares it dead (nobody does when it
                // was the last): a gateway port that refuses connections proves that no silo serves there.
                if (await AllRefuseAsync(gateways, cancellationToken))
                {
                    return new ClusterHealth(false, 0, [], Elapsed(started), "no silo accepts connections");
                }

                return new ClusterHealth(true, known.Count, known, Elapsed(started), null);
            }

            // The membership changed since: only the management grain can name the silos; wait for it.
            var left = options.Value.ReadinessCheckTimeout - Stopwatch.GetElapsedTime(started);
            var answer = await hosts!.WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1), cancellationToken);
            var silos = view.RememberSilos(answer.Keys);
            return new ClusterHealth(silos.Length > 0, silos.Length, silos, Elapsed(started), silos.Length > 0 ? null : "no active silo");
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            var error = ex is TimeoutException ? "cluster did not answer in time" : ex.Message;
            return new ClusterHealth(false, 0, [], Elapsed(started), error);
        }
    }

    private async Task<bool> AllRefuseAsync(IList<Uri> gateways, CancellationToken cancellationToken)
    {
        var probes = gateways.Select(g => IPAddress.TryParse(g.Host, out var address)
            ? EndpointProbe.RefusesAsync(new IPEndPoint(address, g.Port), options.Value.LiveReadTimeout, cancellationToken)
            : Task.FromResult(false));
        return (await Task.WhenAll(probes)).All(refused => refused);
    }

    private static double Elapsed(long started) => Math.Round(Stopwatch.GetElapsedTime(started).TotalMilliseconds, 1);
}
