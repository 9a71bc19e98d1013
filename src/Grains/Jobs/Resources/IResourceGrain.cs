namespace OrleansJobs.Jobs.Resources;

/// <summary>
/// The lease protocol every resource speaks (run slots of a type today; a library's lock and a
/// device next). Requests are granted or queued by priority (higher first), then arrival; a
/// queued job is granted later through <see cref="IResourceHolder.GrantedAsync"/>. Silo-side only.
/// </summary>
[Alias("OrleansJobs.IResourceGrain")]
public interface IResourceGrain : IGrainWithStringKey
{
    /// <summary>Grants the resource now or queues the job. Idempotent: a holder is granted again, a waiter keeps its place.</summary>
    [Alias("Request")]
    Task<ResourceTicket> RequestAsync(string jobId, int priority, DateTimeOffset queuedAt);

    /// <summary>Gives the job's hold back, or takes it out of the queue. Idempotent.</summary>
    [Alias("Release")]
    Task ReleaseAsync(string jobId);

    /// <summary>
    /// Asks every holder and waiter at once whether it still holds or awaits the resource; releases the
    /// holders and removes the waiters that do not (dry: only reports them). The state validator's check.
    /// </summary>
    /// <remarks>Interleaves with requests and releases (it waits for the jobs' answers, as the holder check does).</remarks>
    [Alias("Audit"), Orleans.Concurrency.AlwaysInterleave, ResponseTimeout("00:10:00")]
    Task<ResourceAudit> AuditAsync(bool dryRun);

    /// <summary>Holders and waiters, for tests and operators: <see cref="ResourceTicket.Position"/> is the queue's length.</summary>
    [Alias("Stats"), Orleans.Concurrency.ReadOnly]
    Task<ResourceTicket> GetStatsAsync();
}
