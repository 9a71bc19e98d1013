using System.Net.Sockets;
using Microsoft.Extensions.Options;

namespace OrleansJobs.Silo.Hosting;

/// <summary>
/// Lets a silo join a cluster whose other members were all killed (dotnet/orleans#7194).
/// A joining silo waits until it can reach every silo the membership table lists as Active, up
/// to <c>MaxJoinAttemptTime</c> (5 min). After a crash nobody is left to vote the dead rows out,
/// so a silo restarted on a new address or port would sit in Joining for minutes.
///
/// Just after the membership service starts, and before that connectivity check, this probes
/// the silo endpoint of each Active member and declares dead those whose endpoint actively
/// refuses the connection: a live silo always listens on its silo port, so a refusal is proof
/// there is no silo there. Anything short of a refusal (a timeout, an unreachable network) is
/// left to Orleans' own failure detection. A silo restarted on its old endpoint needs none of
/// this: Orleans retires older generations of its own address itself.
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

    private async Task SweepAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.DeclareRefusingSilosDeadOnStart)
        {
            return;
        }

        var me = localSilo.SiloAddress;
        var candidates = membership.CurrentSnapshot.Members.Values
            .Where(m => m.Status == SiloStatus.Active && !m.SiloAddress.Endpoint.Equals(me.Endpoint))
            .Select(m => m.SiloAddress)
            .ToList();
        if (candidates.Count == 0)
        {
            return;
        }

        var probes = candidates.Select(async silo => (Silo: silo, Refused: await RefusesConnectionAsync(silo, cancellationToken)));
        foreach (var (silo, refused) in await Task.WhenAll(probes))
        {
            if (!refused)
            {
                continue;
            }

            logger.LogWarning(
                "Membership lists {Silo} as Active but its endpoint refuses connections; declaring it dead so this silo can join",
                silo);
            if (!await membership.TryKill(silo))
            {
                logger.LogWarning("Could not declare {Silo} dead; Orleans failure detection will handle it", silo);
            }
        }
    }

    private async Task<bool> RefusesConnectionAsync(SiloAddress silo, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Value.StartupProbeTimeout);
        using var socket = new Socket(silo.Endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(silo.Endpoint, timeout.Token);
            return false;
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return true;
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            // No answer is not proof of death (a slow network looks the same): not ours to judge.
            return false;
        }
    }
}
