using Microsoft.Extensions.Options;
using OrleansJobs.Hosting;

namespace OrleansJobs.Silo.Hosting;

/// <summary>
/// Lets a silo join a cluster whose other members were all killed (dotnet/orleans#7194).
/// A joining silo waits until it can reach every silo the membership table lists as Active, up
/// to <c>MaxJoinAttemptTime</c> (5 min). After a crash nobody is left to vote the dead rows out,
/// so restarted silos would sit in Joining for minutes, or wait out each other's probes.
///
/// From just after the membership service starts until this silo is Active, it declares dead
/// the Active members that provably no longer exist:
/// <list type="bullet">
/// <item>a member whose silo endpoint actively refuses connections (a live silo always listens
/// on its silo port, so a refusal is proof there is no silo there);</item>
/// <item>a member whose endpoint the table also lists with a newer generation: only one process
/// can listen on an endpoint, so the newer incarnation replaced it. This is what several silos
/// restarted on their old ports at once need: each answers on the endpoint its predecessor's row
/// names, so a probe of the old row reaches the wrong process and fails only after timeouts.</item>
/// </list>
/// Anything short of that (a timeout, an unreachable network) is left to Orleans' own failure detection.
/// </summary>
public sealed class RefusingSiloSweep(
    IClusterMembershipService membership,
    ILocalSiloDetails localSilo,
    IOptions<SiloHostOptions> options,
    ILogger<RefusingSiloSweep> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(
            nameof(RefusingSiloSweep),
            ServiceLifecycleStage.AfterRuntimeGrainServices + 1,
            SweepAsync,
            _ => Task.CompletedTask);

    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(500);

    private Task SweepAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.DeclareRefusingSilosDeadOnStart)
        {
            return Task.CompletedTask;
        }

        // The join (a later stage) waits on the members this retires: keep going in the background until it is done.
        _ = Task.Run(() => SweepUntilActiveAsync(options.Value.StartupSweepDuration), CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task SweepUntilActiveAsync(TimeSpan duration)
    {
        using var limit = new CancellationTokenSource(duration);
        var me = localSilo.SiloAddress;
        try
        {
            while (membership.CurrentSnapshot.GetSiloStatus(me) != SiloStatus.Active)
            {
                await SweepOnceAsync(me, limit.Token);
                await Task.Delay(Interval, limit.Token);
                await membership.Refresh(default, limit.Token);
            }
        }
        catch (OperationCanceledException) when (limit.IsCancellationRequested)
        {
            // This silo did not become Active in time: Orleans' own detection and join timeout take over.
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            logger.LogWarning(ex, "Start-up membership sweep stopped early; Orleans failure detection will handle stale members");
        }
    }

    private async Task SweepOnceAsync(SiloAddress me, CancellationToken cancellationToken)
    {
        var members = membership.CurrentSnapshot.Members.Values.ToList();
        var candidates = members
            .Where(m => m.Status == SiloStatus.Active && !m.SiloAddress.Equals(me))
            .Select(m => m.SiloAddress)
            .ToList();
        foreach (var silo in candidates)
        {
            var replacedBy = members
                .Select(m => m.SiloAddress)
                .FirstOrDefault(other => other.Endpoint.Equals(silo.Endpoint) && other.Generation > silo.Generation);
            if (replacedBy is not null)
            {
                await DeclareDeadAsync(silo, $"{replacedBy} has since started on the same endpoint");
            }
            else if (!silo.Endpoint.Equals(me.Endpoint) && await RefusesConnectionAsync(silo, cancellationToken))
            {
                await DeclareDeadAsync(silo, "its endpoint refuses connections");
            }
        }
    }

    private async Task DeclareDeadAsync(SiloAddress silo, string why)
    {
        logger.LogWarning("Membership lists {Silo} as Active but {Why}; declaring it dead so this silo can join", silo, why);
        if (!await membership.TryKill(silo))
        {
            logger.LogWarning("Could not declare {Silo} dead; Orleans failure detection will handle it", silo);
        }
    }

    private Task<bool> RefusesConnectionAsync(SiloAddress silo, CancellationToken cancellationToken) =>
        // No answer is not proof of death (a slow network looks the same): only a refusal is.
        EndpointProbe.RefusesAsync(silo.Endpoint, options.Value.StartupProbeTimeout, cancellationToken);
}
