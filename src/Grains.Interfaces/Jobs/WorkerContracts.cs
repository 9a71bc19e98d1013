namespace OrleansJobs.Jobs;

/// <summary>
/// A job handed to an external worker: what it needs to run it, and the lease under which it
/// may. Every report must carry <see cref="LeaseToken"/>; once the lease lapses (no heartbeat
/// or report for <see cref="LeaseDuration"/>) the job goes back to the queue and the token is void.
/// </summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.WorkerLease")]
public sealed record WorkerLease(
    [property: Id(0)] string JobId,
    [property: Id(1)] string Type,
    [property: Id(2)] string ParametersJson,
    [property: Id(3)] JobCheckpoint Checkpoint,
    [property: Id(4)] JobProgress Progress,
    [property: Id(5)] int Attempt,
    [property: Id(6)] string LeaseToken,
    [property: Id(7)] DateTimeOffset LeaseExpiresAt,
    [property: Id(8)] TimeSpan LeaseDuration,
    [property: Id(9)] int CheckpointEveryItems,
    [property: Id(10)] TimeSpan CheckpointInterval);

/// <summary>The answer to a claim: a lease, nothing to do (both null), or what was wrong with the request.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.WorkerClaimResult")]
public sealed record WorkerClaimResult(
    [property: Id(0)] WorkerLease? Lease,
    [property: Id(1)] IReadOnlyList<JobParameterError> Errors);

/// <summary>What a worker reports about the job it holds.</summary>
public enum WorkerReportKind
{
    /// <summary>Still alive: extends the lease.</summary>
    Heartbeat = 0,

    /// <summary>Progress, optionally with a checkpoint (stored durably); extends the lease.</summary>
    Progress = 1,

    /// <summary>Messages for operators; extends the lease.</summary>
    Messages = 2,

    /// <summary>The job is done (optionally with its final checkpoint); ends the lease.</summary>
    Complete = 3,

    /// <summary>This attempt failed; the job is retried per its attempts, or fails. Ends the lease.</summary>
    Fail = 4,

    /// <summary>The worker gives the job back (it stops, e.g. on Ctrl+C), with its last checkpoint: queued again at once, the attempt not counted as failed. Ends the lease.</summary>
    Release = 5,
}

/// <summary>One report of a worker, under its lease.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.WorkerReport")]
public sealed record WorkerReport(
    [property: Id(0)] WorkerReportKind Kind,
    [property: Id(1)] string LeaseToken,
    [property: Id(2)] JobProgress? Progress,
    [property: Id(3)] JobCheckpoint? Checkpoint,
    [property: Id(4)] IReadOnlyList<JobMessage>? Messages,
    [property: Id(5)] string? Error);

/// <summary>How a worker report was taken.</summary>
public enum WorkerReportOutcome
{
    Accepted = 0,

    /// <summary>The lease lapsed, or the job was claimed again, cancelled, paused or killed since: nothing changed; stop working on it.</summary>
    LeaseLost = 1,

    /// <summary>No job has this id.</summary>
    NotFound = 2,

    /// <summary>No worker runs this job (it is not leased, or its type runs in the silos): nothing changed.</summary>
    NotLeased = 3,
}

/// <summary>The answer to a report: the outcome, why (when refused), the job's status and the lease's new end.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.WorkerReportResult")]
public sealed record WorkerReportResult(
    [property: Id(0)] WorkerReportOutcome Outcome,
    [property: Id(1)] string? Detail,
    [property: Id(2)] JobStatus? Status,
    [property: Id(3)] DateTimeOffset? LeaseExpiresAt);

/// <summary>
/// Hands queued jobs of external types to workers. Stateless: any silo answers; the type's
/// admission grain orders the queue and bounds how many jobs are leased at once.
/// </summary>
[Alias("OrleansJobs.IWorkerGatewayGrain")]
public interface IWorkerGatewayGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// The next queued job of the first of <paramref name="types"/> that has one, leased to
    /// <paramref name="workerId"/> for <paramref name="leaseDuration"/> (the type's default when
    /// null). A result without lease and errors means there is nothing to do now.
    /// </summary>
    [Alias("Claim")]
    Task<WorkerClaimResult> ClaimAsync(string workerId, IReadOnlyList<string> types, TimeSpan? leaseDuration);
}
