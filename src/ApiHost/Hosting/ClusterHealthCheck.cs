using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using OrleansJobs.ApiHost.ReadModel;
using OrleansJobs.Hosting;

namespace OrleansJobs.ApiHost.Hosting;

/// <summary>
/// Healthy when at least one silo is reachable through the client; the silos go into the result's
/// data (<see cref="SilosKey"/>). Bounded by <see cref="ApiHostOptions.ReadinessCheckTimeout"/>, so it never hangs.
/// </summary>
public sealed class ClusterHealthCheck(
    IClusterClient client, Orleans.Messaging.IGatewayListProvider gatewayList, ClusterView view, IOptions<ApiHostOptions> options) : IHealthCheck
{
    public const string Name = "cluster";

    /// <summary>The active silos (<c>string[]</c>) in the result's data.</summary>
    public const string SilosKey = "silos";

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken)
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
            return Silos(view.RememberSilos(answer.Keys));
        }
        catch (TimeoutException)
        {
            // No answer yet: see below.
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return Unhealthy(ex.Message);
        }

        try
        {
            var gateways = await gatewayList.GetGateways().WaitAsync(options.Value.ReadinessCheckTimeout, cancellationToken);
            // Each gateway names its silo's host and generation. When each one is a silo last seen active, no silo joined:
            // those silos serve (one of them does not answer yet).
            var serving = gateways.Select(g => $"{g.Host}@{g.Segments[^1].Trim('/')}").ToHashSet(StringComparer.Ordinal);
            var known = (view.KnownSilos ?? []).Where(k => serving.Contains($"{k[..k.LastIndexOf(':')]}@{k[(k.LastIndexOf('@') + 1)..]}")).ToArray();
            if (serving.Count > 0 && known.Length == serving.Count)
            {
                // Every serving gateway is a silo seen active before (the same silos, or fewer: one was declared dead, and
                // the management grain may still be waiting on it). The table still names a silo that was killed until somebody
                // declares it dead (nobody does when it was the last): a gateway port that refuses connections proves that no silo serves there.
                return await AllRefuseAsync(gateways, cancellationToken) ? Unhealthy("no silo accepts connections") : Silos(known);
            }

            // A silo joined since: only the management grain can name the silos; wait for it.
            var left = options.Value.ReadinessCheckTimeout - Stopwatch.GetElapsedTime(started);
            var answer = await hosts!.WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1), cancellationToken);
            return Silos(view.RememberSilos(answer.Keys));
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return Unhealthy(ex is TimeoutException ? "cluster did not answer in time" : ex.Message);
        }
    }

    private static HealthCheckResult Silos(string[] silos) => silos.Length > 0
        ? HealthCheckResult.Healthy($"{silos.Length} active silo(s)", new Dictionary<string, object> { [SilosKey] = silos })
        : Unhealthy("no active silo");

    private static HealthCheckResult Unhealthy(string error) =>
        HealthCheckResult.Unhealthy(error, data: new Dictionary<string, object> { [SilosKey] = Array.Empty<string>() });

    private async Task<bool> AllRefuseAsync(IList<Uri> gateways, CancellationToken cancellationToken)
    {
        var probes = gateways.Select(g => IPAddress.TryParse(g.Host, out var address)
            ? EndpointProbe.RefusesAsync(new IPEndPoint(address, g.Port), options.Value.LiveReadTimeout, cancellationToken)
            : Task.FromResult(false));
        return (await Task.WhenAll(probes)).All(refused => refused);
    }
}
