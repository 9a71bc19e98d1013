using System.Collections.Concurrent;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansJobs.Hosting;

namespace OrleansJobs.Membership;

/// <summary>
/// Declares a silo dead the moment there is proof that its process is gone, instead of after
/// Orleans' missed probes and votes. This silo holds one idle TCP connection to every other active
/// member's silo endpoint. When a process ends, its host closes that connection at once; if the
/// endpoint then refuses a new connection, nothing listens there any more: the silo is declared
/// dead through the membership service, and the recovery sweep that follows every death resumes its
/// jobs. A connection that only goes quiet (a frozen process, a lost machine, a partition) proves
/// nothing and is left to Orleans' probes and votes.
/// </summary>
public sealed partial class SiloDeathWatch(
    IClusterMembershipService membership,
    ILocalSiloDetails localSilo,
    IOptions<LivenessOptions> options,
    ILogger<SiloDeathWatch> logger) : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan SilentRetry = TimeSpan.FromSeconds(1);

    // A refusal is confirmed by two more, a moment apart. A live silo never closes its listener
    // except while it shuts down, which it announces first (checked before declaring).
    private static readonly TimeSpan[] RecheckDelays = [TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(30)];

    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<SiloAddress, CancellationTokenSource> _watched = new();
    private Task _running = Task.CompletedTask;

    public void Participate(ISiloLifecycle lifecycle)
    {
        if (options.Value.DeclareRefusingSilosDead)
        {
            lifecycle.Subscribe(nameof(SiloDeathWatch), ServiceLifecycleStage.Active, StartAsync, StopAsync);
        }
    }

    public void Dispose()
    {
        _stopping.Dispose();
        foreach (var watch in _watched.Values)
        {
            watch.Dispose();
        }
    }

    private async Task StartAsync(CancellationToken cancellationToken)
    {
        // A refusal proves something only where silos listen on real sockets: a silo on another
        // transport (an in-memory test cluster) refuses even itself, and must leave detection to Orleans.
        if (await EndpointProbe.RefusesAsync(localSilo.SiloAddress.Endpoint, ConnectTimeout, cancellationToken))
        {
            LogNoSockets(logger, localSilo.SiloAddress.ToParsableString());
            return;
        }

        _running = Task.Run(() => FollowMembershipAsync(_stopping.Token), CancellationToken.None);
    }

    private async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        foreach (var watch in _watched.Values)
        {
            await watch.CancelAsync();
        }

        await _running;
    }

    private async Task FollowMembershipAsync(CancellationToken cancellationToken)
    {
        try
        {
            Reconcile(membership.CurrentSnapshot, cancellationToken);
            await foreach (var snapshot in membership.MembershipUpdates.WithCancellation(cancellationToken))
            {
                Reconcile(snapshot, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The silo is stopping.
        }
    }

    /// <summary>Watches every other active member; stops watching those that are not active any more.</summary>
    private void Reconcile(ClusterMembershipSnapshot snapshot, CancellationToken cancellationToken)
    {
        var me = localSilo.SiloAddress;
        var active = snapshot.Members.Values
            .Where(m => m.Status == SiloStatus.Active && !m.SiloAddress.Endpoint.Equals(me.Endpoint))
            .Select(m => m.SiloAddress)
            .ToHashSet();
        foreach (var (silo, watch) in _watched)
        {
            if (!active.Contains(silo) && _watched.TryRemove(silo, out _))
            {
                watch.Cancel();
                watch.Dispose();
            }
        }

        foreach (var silo in active)
        {
            if (!_watched.ContainsKey(silo))
            {
                var watch = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                if (_watched.TryAdd(silo, watch))
                {
                    _ = Task.Run(() => WatchAsync(silo, watch.Token), CancellationToken.None);
                }
                else
                {
                    watch.Dispose();
                }
            }
        }
    }

    private async Task WatchAsync(SiloAddress silo, CancellationToken cancellationToken)
    {
        var buffer = new byte[256];
        var heldFor = TimeSpan.MaxValue;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var (answer, socket) = await EndpointProbe.ConnectAsync(silo.Endpoint, ConnectTimeout, cancellationToken);
                if (answer == EndpointAnswer.Refused && await StillRefusedAsync(silo, cancellationToken))
                {
                    await DeclareDeadAsync(silo);
                    return;
                }

                if (socket is null || heldFor < SilentRetry)
                {
                    // Silent, or a live silo that keeps closing the connection: look again a little later.
                    socket?.Dispose();
                    heldFor = TimeSpan.MaxValue;
                    await Task.Delay(SilentRetry, cancellationToken);
                    continue;
                }

                var connectedAt = System.Diagnostics.Stopwatch.GetTimestamp();
                using (socket)
                {
                    // The silo sends its greeting and then nothing: a read ends only when the connection does.
                    try
                    {
                        while (await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken) > 0)
                        {
                        }
                    }
                    catch (SocketException)
                    {
                        // Reset: the same as a close.
                    }
                }

                heldFor = System.Diagnostics.Stopwatch.GetElapsedTime(connectedAt);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // No longer an active member, or this silo is stopping.
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogWatchFailed(logger, ex, silo.ToParsableString());
        }
    }

    /// <summary>A refusal seen once is checked twice more within 40 ms.</summary>
    private static async Task<bool> StillRefusedAsync(SiloAddress silo, CancellationToken cancellationToken)
    {
        foreach (var delay in RecheckDelays)
        {
            await Task.Delay(delay, cancellationToken);
            if (!await EndpointProbe.RefusesAsync(silo.Endpoint, ConnectTimeout, cancellationToken))
            {
                return false;
            }
        }

        return true;
    }

    private async Task DeclareDeadAsync(SiloAddress silo)
    {
        try
        {
            // A silo that shuts down gracefully closes its endpoint after saying so: it is not ours to declare.
            await membership.Refresh();
            if (membership.CurrentSnapshot.GetSiloStatus(silo) != SiloStatus.Active)
            {
                return;
            }

            LogDeclaring(logger, silo.ToParsableString());
            if (!await membership.TryKill(silo))
            {
                LogNotDeclared(logger, silo.ToParsableString());
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogNotDeclaredError(logger, ex, silo.ToParsableString());
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "This silo's own endpoint ({Silo}) refuses connections (not a socket transport): dead silos are left to Orleans' failure detection")]
    private static partial void LogNoSockets(ILogger logger, string silo);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Silo {Silo}: its connection closed and its endpoint refuses connections, so its process is gone; declaring it dead")]
    private static partial void LogDeclaring(ILogger logger, string silo);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Silo {Silo} could not be declared dead; Orleans' failure detection will")]
    private static partial void LogNotDeclared(ILogger logger, string silo);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Silo {Silo} could not be declared dead; Orleans' failure detection will")]
    private static partial void LogNotDeclaredError(ILogger logger, Exception exception, string silo);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Watching silo {Silo} for proof of death stopped; Orleans' failure detection still covers it")]
    private static partial void LogWatchFailed(ILogger logger, Exception exception, string silo);
}
