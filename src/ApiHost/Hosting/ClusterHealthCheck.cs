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
            // The table still names a silo that was killed until somebody declares it dead (nobody does when it was the last):
            // a gateway port that refuses connections proves that no silo serves there.
            if (gateways.Count == 0 || await AllRefuseAsync(gateways, cancellationToken))
            {
                return Unhealthy("no silo accepts connections");
            }

            // Some silo serves. Each gateway names its silo's host and generation: a silo seen active before keeps its name; one
            // not seen yet (it joined, or no answer came since this host started) is named by its gateway until the management
            // grain, still asked, answers. Waiting for it here would hold readiness on the silo that does not answer.
            _ = RememberWhenAnsweredAsync(hosts!); // set: only its wait timed out
            var known = view.KnownSilos ?? [];
            return Silos([.. gateways.Select(g => SiloName(g, known))]);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return Unhealthy(ex is TimeoutException ? "cluster did not answer in time" : ex.Message);
        }
    }

    // A gateway's silo as last seen active ("host:siloPort@generation"), else its gateway ("host:gatewayPort@generation").
    private static string SiloName(Uri gateway, IReadOnlyList<string> known)
    {
        var generation = gateway.Segments[^1].Trim('/');
        return known.FirstOrDefault(k => k[..k.LastIndexOf(':')] == gateway.Host && k[(k.LastIndexOf('@') + 1)..] == generation)
            ?? $"{gateway.Host}:{gateway.Port}@{generation}";
    }

    private async Task RememberWhenAnsweredAsync(Task<Dictionary<SiloAddress, SiloStatus>> hosts)
    {
        try
        {
            view.RememberSilos((await hosts).Keys);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // No answer at all: the next check asks again.
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
