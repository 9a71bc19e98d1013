namespace OrleansJobs.Jobs.Resources;

/// <summary>
/// Run slots of one job type (the grain key): at most <c>MaxConcurrent</c> of its jobs run at once
/// across the cluster. Jobs of external types are not granted here: workers take them with
/// <see cref="ClaimNextAsync"/>. Silo-side only.
/// </summary>
[Alias("OrleansJobs.IRunSlotsGrain")]
public interface IRunSlotsGrain : IResourceGrain
{
    /// <summary>
    /// External types only: takes the next waiting job as a holder, for a worker's claim; null
    /// when none waits or the type's limit of leased jobs is reached. The claimer must then claim
    /// the job itself, or release it when the job refuses.
    /// </summary>
    [Alias("ClaimNext")]
    Task<string?> ClaimNextAsync();
}
