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

        var call = cluster.GetGrain<IJobTypesGrain>(0).GetAllAsync();
        if (known is null)
        {
            // Nothing known yet: this first answer must be waited for (at most the grain call timeout).
            var first = await call;
            _types = (first, time.GetTimestamp());
            return first;
        }

        var (answered, types) = await LiveCalls.WithinAsync(call, options.Value.LiveReadTimeout, CancellationToken.None);
        if (!answered || types is null)
        {
            return known.Value.Types;
        }

        _types = (types, time.GetTimestamp());
        return types;
    }

    /// <summary>The active silos, named as jobs record their owner (<c>address:port@generation</c>).</summary>
    public async Task<string[]> ActiveSilosAsync(CancellationToken cancellationToken)
    {
        var hosts = await cluster.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true, cancellationToken);
        return [.. hosts.Keys.Select(s => s.ToParsableString())];
    }
}
