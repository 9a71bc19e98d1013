using Orleans.Concurrency;
using OrleansJobs.Jobs;

namespace OrleansJobs.Safeguards;

/// <summary>
/// Deletes finished jobs: by the retention policy (older than <c>Retention:Retention</c>, or beyond
/// <c>Retention:MaxPastJobsPerType</c> of a type), on a schedule and on request, or a filtered set an
/// admin names. Bounded batches; active jobs are never touched. One activation runs one purge at a time.
/// </summary>
[Alias("OrleansJobs.IRetentionGrain")]
public interface IRetentionGrain : IGrainWithIntegerKey
{
    /// <summary>Runs a purge now (by policy when <see cref="PurgeRequest.Filter"/> is null) and returns what it did or, dry, would do.</summary>
    /// <remarks>A purge of many jobs takes longer than a request's usual budget: the call may take up to 30 minutes.</remarks>
    [Alias("Run"), ResponseTimeout("00:30:00")]
    Task<PurgeRun> RunAsync(PurgeRequest request);

    /// <summary>The last purge by policy (scheduled or requested); null when none ran since activation.</summary>
    [ReadOnly, Alias("LastRun")]
    Task<PurgeRun?> GetLastRunAsync();
}

/// <summary>A purge: by policy (no filter) or of the finished jobs a filter names; dry: only list them.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.PurgeRequest")]
public sealed record PurgeRequest(
    [property: Id(0)] string Reason,
    [property: Id(1)] string Actor,
    [property: Id(2)] bool DryRun,
    [property: Id(3)] PurgeFilter? Filter = null);

/// <summary>Which finished jobs an admin purge takes: all of the given members must match; at least one is given.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.PurgeFilter")]
public sealed record PurgeFilter(
    [property: Id(0)] IReadOnlyList<string>? Ids,
    [property: Id(1)] IReadOnlyList<JobStatus>? Statuses,
    [property: Id(2)] string? Type,
    [property: Id(3)] DateTimeOffset? FinishedBefore,
    [property: Id(4)] int Limit);

/// <summary>One purge: how many jobs it found, deleted, skipped (not finished any more) or could not reach, and the first ids it found.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.PurgeRun")]
public sealed record PurgeRun(
    [property: Id(0)] string Reason,
    [property: Id(1)] bool DryRun,
    [property: Id(2)] DateTimeOffset StartedAt,
    [property: Id(3)] DateTimeOffset FinishedAt,
    [property: Id(4)] int Candidates,
    [property: Id(5)] int Purged,
    [property: Id(6)] int Skipped,
    [property: Id(7)] int Failed,
    [property: Id(8)] IReadOnlyList<string> Sample);
