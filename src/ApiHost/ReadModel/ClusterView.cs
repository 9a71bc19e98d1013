using OrleansJobs.Jobs;

namespace OrleansJobs.ApiHost.ReadModel;

/// <summary>
/// What the silos know that the index does not: the registered job types (with their stall
/// timeouts) and the active members. Asked of grains, never read from Orleans' own tables, whose
/// layout is Orleans' business.
/// </summary>
public sealed class ClusterView(IClusterClient cluster)
{
    public Task<IReadOnlyList<JobTypeInfo>> JobTypesAsync() => cluster.GetGrain<IJobTypesGrain>(0).GetAllAsync();

    /// <summary>The active silos, named as jobs record their owner (<c>address:port@generation</c>).</summary>
    public async Task<string[]> ActiveSilosAsync(CancellationToken cancellationToken)
    {
        var hosts = await cluster.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true, cancellationToken);
        return [.. hosts.Keys.Select(s => s.ToParsableString())];
    }
}
