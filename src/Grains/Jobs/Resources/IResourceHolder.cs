using Orleans.Concurrency;

namespace OrleansJobs.Jobs.Resources;

/// <summary>
/// A job as its resources see it. Silo-side only. This is the one channel that keeps a resource and
/// the jobs it knows in step: the resource tells a job it was granted, and asks a holder it has not
/// heard from whether it still holds; the answers correct the resource.
/// </summary>
[Alias("OrleansJobs.IResourceHolder")]
public interface IResourceHolder : IGrainWithStringKey
{
    /// <summary>The job was granted <paramref name="key"/> from the queue. False: it no longer wants it, and the resource frees it.</summary>
    [Alias("Granted")]
    Task<bool> GrantedAsync(ResourceKey key);

    /// <summary>Whether the job holds or awaits <paramref name="key"/>; answers at once, even while the job is busy.</summary>
    [AlwaysInterleave, Alias("ClaimOn")]
    Task<ResourceClaim> ClaimOnAsync(ResourceKey key);
}
