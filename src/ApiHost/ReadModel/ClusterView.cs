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

    private (IReadOnlyList<JobTypeInfo> Types, long At)? _types;

    /// <summary>
    /// The registered job types. They change only when silos with other handlers join, so the last
    /// answer is kept for a few seconds, and used for longer when the silo asked does not answer in
    /// time: a listing never waits on a silo that is gone.
    /// </summary>
    public async Task<IReadOnlyList<JobTypeInfo>> JobTypesAsync()
    {
        var known = _types;
        if (known is { } fresh && time.GetElapsedTime(fresh.At) < TypesFresh)
        {
            return fresh.Types;
        }

        // Asked again while the budget lasts: a call that fails at once (it went to a silo that just
        // died) is followed by another, which the client routes to a live silo.
        var started = time.GetTimestamp();
        while (true)
        {
            var left = options.Value.LiveReadTimeout - time.GetElapsedTime(started);
            if (left > TimeSpan.Zero)
            {
                var (answered, types) = await LiveCalls.WithinAsync(cluster.GetGrain<IJobTypesGrain>(0).GetAllAsync(), left, CancellationToken.None);
                if (answered && types is not null)
                {
                    _types = (types, time.GetTimestamp());
                    return types;
                }
            }

            if (known is { } stale)
            {
                return stale.Types;
            }

            if (left <= TimeSpan.Zero)
            {
                // Never known, and no silo answers: the cluster is unavailable (503).
                throw new TimeoutException("no silo answered for the registered job types");
            }

            await Task.Delay(RetryDelay, time);
        }
    }

    /// <summary>The active silos, named as jobs record their owner (<c>address:port@generation</c>).</summary>
    public async Task<string[]> ActiveSilosAsync(CancellationToken cancellationToken)
    {
        var hosts = await cluster.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true, cancellationToken);
        return [.. hosts.Keys.Select(s => s.ToParsableString())];
    }
}
