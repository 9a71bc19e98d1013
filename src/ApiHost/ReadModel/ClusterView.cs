using Microsoft.Extensions.Options;
using OrleansJobs.ApiHost.Hosting;
using OrleansJobs.Jobs;

namespace OrleansJobs.ApiHost.ReadModel;

/// <summary>
/// What the silos know that the index does not: the registered job types (with their stall
/// timeouts) and the active members. Asked of grains, never read from Orleans' own tables, whose
/// layout is Orleans' business.
/// </summary>
public sealed class ClusterView(IClusterClient cluster, IOptions<ApiHostOptions> options, TimeProvider time)
{
    /// <summary>How long the known job types are used without asking again.</summary>
    private static readonly TimeSpan TypesFresh = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(50);

    private volatile KnownTypes? _types;
    private volatile string[]? _silos;
    private int _refreshing;

    /// <summary>
    /// The registered job types. They change only when silos with other handlers join, so the last
    /// answer is used, and refreshed in the background once it is a few seconds old: a read never
    /// waits on a silo that does not answer. Only before the first answer does a read ask itself,
    /// for at most <see cref="ApiHostOptions.LiveReadTimeout"/>.
    /// </summary>
    public async Task<IReadOnlyList<JobTypeInfo>> JobTypesAsync()
    {
        if (_types is { } known)
        {
            if (time.GetElapsedTime(known.At) >= TypesFresh && Interlocked.CompareExchange(ref _refreshing, 1, 0) == 0)
            {
                _ = Task.Run(RefreshTypesAsync);
            }

            return known.Types;
        }

        // Asked again while the budget lasts: a call that fails at once (it went to a silo that just
        // died) is followed by another, which the client routes to a live silo.
        var started = time.GetTimestamp();
        while (true)
        {
            var left = options.Value.LiveReadTimeout - time.GetElapsedTime(started);
            if (left <= TimeSpan.Zero)
            {
                // Never known, and no silo answers in time: the cluster is unavailable (503).
                throw new TimeoutException("no silo answered for the registered job types");
            }

            var (answered, types) = await LiveCalls.WithinAsync(cluster.GetGrain<IJobTypesGrain>(0).GetAllAsync(), left, CancellationToken.None);
            if (answered && types is not null)
            {
                _types = new KnownTypes(types, time.GetTimestamp());
                return types;
            }

            await Task.Delay(RetryDelay, time);
        }
    }

    /// <summary>Whether the job types have been read at least once.</summary>
    public bool KnowsTypes => _types is not null;

    /// <summary>Reads the job types again, waiting up to the grain call timeout; on failure the known ones stay.</summary>
    public async Task RefreshTypesAsync()
    {
        try
        {
            var types = await cluster.GetGrain<IJobTypesGrain>(0).GetAllAsync();
            _types = new KnownTypes(types, time.GetTimestamp());
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // No silo answered (or the client is not connected yet): the known types stay, and the next
            // read after they are due again tries once more.
        }
        finally
        {
            Volatile.Write(ref _refreshing, 0);
        }
    }

    /// <summary>
    /// The active silos, named as jobs record their owner (<c>address:port@generation</c>). The management
    /// grain lives on one silo: when it does not answer within <see cref="ApiHostOptions.LiveReadTimeout"/>,
    /// the list it gave last stands in (only the very first answer is waited for in full).
    /// </summary>
    public async Task<string[]> ActiveSilosAsync(CancellationToken cancellationToken)
    {
        var call = cluster.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true, cancellationToken);
        if (_silos is { } known)
        {
            var (answered, hosts) = await LiveCalls.WithinAsync(call, options.Value.LiveReadTimeout, cancellationToken);
            if (!answered || hosts is null)
            {
                return known;
            }

            return RememberSilos(hosts.Keys);
        }

        return RememberSilos((await call).Keys);
    }

    /// <summary>The active silos as last seen (by a listing or a readiness check); null before the first answer.</summary>
    public IReadOnlyList<string>? KnownSilos => _silos;

    /// <summary>Records an answer of the management grain, so that later reads can stand in with it.</summary>
    public string[] RememberSilos(IEnumerable<SiloAddress> silos) =>
        _silos = [.. silos.Select(s => s.ToParsableString()).Order(StringComparer.Ordinal)];

    private sealed record KnownTypes(IReadOnlyList<JobTypeInfo> Types, long At);
}

/// <summary>Reads the job types once the API host runs, so that no read has to wait for the first answer.</summary>
public sealed class JobTypesWarmUp(ClusterView view, IOptions<ApiHostOptions> options) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Off the host's start-up path: the host listens at once whatever the cluster's state.
        await Task.Yield();
        try
        {
            while (!view.KnowsTypes && !stoppingToken.IsCancellationRequested)
            {
                await view.RefreshTypesAsync();
                if (!view.KnowsTypes)
                {
                    await Task.Delay(options.Value.ConnectRetryDelay, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The host stops.
        }
    }
}
