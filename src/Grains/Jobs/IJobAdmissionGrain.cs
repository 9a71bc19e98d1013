namespace OrleansJobs.Jobs;

/// <summary>The answer to a request for a run slot.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.AdmissionTicket")]
public sealed record AdmissionTicket(
    [property: Id(0)] bool Granted,
    [property: Id(1)] int Running,
    [property: Id(2)] int Limit,
    [property: Id(3)] int Position);

/// <summary>
/// Run slots of one job type (the grain key), at most <c>MaxConcurrent</c> across the cluster.
/// Waiting jobs are admitted by priority (higher first), then first come first served; an
/// admitted job is told through <see cref="IJobRun.AdmittedAsync"/>. Silo-side only.
/// </summary>
[Alias("OrleansJobs.IJobAdmissionGrain")]
public interface IJobAdmissionGrain : IGrainWithStringKey
{
    /// <summary>Grants a slot now or queues the job. Idempotent: a holder is granted again, a waiter keeps its place.</summary>
    [Alias("Request")]
    Task<AdmissionTicket> RequestAsync(string jobId, int priority, DateTimeOffset queuedAt);

    /// <summary>Gives back the job's slot, or takes it out of the queue. Idempotent.</summary>
    [Alias("Release")]
    Task ReleaseAsync(string jobId);

    /// <summary>
    /// External types only: takes the next waiting job as a holder, for a worker's claim; null
    /// when none waits or the type's limit of leased jobs is reached. The claimer must then claim
    /// the job itself, or release it when the job refuses.
    /// </summary>
    [Alias("ClaimNext")]
    Task<string?> ClaimNextAsync();

    /// <summary>Holders and waiters, for tests and operators.</summary>
    [Alias("Stats"), Orleans.Concurrency.ReadOnly]
    Task<AdmissionTicket> GetStatsAsync();
}
