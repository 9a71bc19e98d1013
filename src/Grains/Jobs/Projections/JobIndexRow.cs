namespace OrleansJobs.Jobs.Projections;

/// <summary>
/// A job's row in <c>job_index</c>, as of grain state version <see cref="StateVersion"/>. A row
/// only ever replaces one with a lower version, so late or repeated writes cannot roll it back.
/// </summary>
public sealed record JobIndexRow(
    string JobId,
    string JobType,
    JobStatus Status,
    int Priority,
    string? LibraryId,
    string? DeviceId,
    double Progress,
    long Processed,
    long? Total,
    string? OwnerSilo,
    int Attempt,
    int Recoveries,
    string? QueuedReason,
    string? Error,
    string? IdempotencyKey,
    DateTimeOffset CreatedAt,
    DateTimeOffset? RunAfter,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    DateTimeOffset? LastProgressAt,
    DateTimeOffset UpdatedAt,
    long StateVersion,
    string? Interruption = null,
    string? DeviceKind = null);
