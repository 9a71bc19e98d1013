namespace OrleansJobs.Jobs;

/// <summary>A request to run a job, as validated by the API host (shape) and the silo (type and parameters).</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.JobSubmission")]
public sealed record JobSubmission(
    [property: Id(0)] string Type,
    [property: Id(1)] string ParametersJson,
    [property: Id(2)] int Priority,
    [property: Id(3)] int? MaxAttempts,
    [property: Id(4)] int? CheckpointEveryItems,
    [property: Id(5)] TimeSpan? CheckpointInterval,
    [property: Id(6)] string? IdempotencyKey,
    [property: Id(7)] string Actor,
    [property: Id(8)] DateTimeOffset? RunAfter = null,
    [property: Id(9)] string? Library = null,
    [property: Id(10)] int? LockWaitSeconds = null,
    [property: Id(11)] string? Device = null,
    [property: Id(12)] string? DeviceKind = null);

/// <summary>One attempt of a job: when it ran and how it ended.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.JobAttempt")]
public sealed record JobAttempt(
    [property: Id(0)] int Number,
    [property: Id(1)] DateTimeOffset StartedAt,
    [property: Id(2)] DateTimeOffset? EndedAt,
    [property: Id(3)] string? Outcome,
    [property: Id(4)] string? Error);

/// <summary>Everything known about a job right now (live progress included while it runs).</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.JobSnapshot")]
public sealed record JobSnapshot(
    [property: Id(0)] string Id,
    [property: Id(1)] string Type,
    [property: Id(2)] JobStatus Status,
    [property: Id(3)] JobProgress Progress,
    [property: Id(4)] int Attempt,
    [property: Id(5)] int MaxAttempts,
    [property: Id(6)] string? Silo,
    [property: Id(7)] DateTimeOffset CreatedAt,
    [property: Id(8)] DateTimeOffset? StartedAt,
    [property: Id(9)] DateTimeOffset? FinishedAt,
    [property: Id(10)] string? Error,
    [property: Id(11)] string? QueuedReason,
    [property: Id(12)] JobCheckpoint Checkpoint,
    [property: Id(13)] IReadOnlyList<JobMessage> Messages,
    [property: Id(14)] IReadOnlyList<JobAttempt> Attempts,
    [property: Id(15)] int Priority,
    [property: Id(16)] string? IdempotencyKey,
    [property: Id(17)] int Recoveries,
    [property: Id(18)] long Version,
    [property: Id(19)] string ParametersJson,
    [property: Id(20)] DateTimeOffset? RunAfter,
    [property: Id(21)] string? Worker = null,
    [property: Id(22)] DateTimeOffset? LeaseExpiresAt = null,
    [property: Id(23)] string? Library = null,
    [property: Id(24)] int? LockWaitSeconds = null,
    [property: Id(25)] string? Device = null,
    [property: Id(26)] string? Interruption = null,
    [property: Id(27)] string? DeviceKind = null);

/// <summary>How a submission went.</summary>
[GenerateSerializer, Alias("OrleansJobs.JobSubmitOutcome")]
public enum JobSubmitOutcome
{
    /// <summary>A new job was created.</summary>
    Created = 0,

    /// <summary>The same request was submitted before (same idempotency key): that job is returned.</summary>
    Existing = 1,

    /// <summary>Unknown type or invalid parameters: nothing was created.</summary>
    Invalid = 2,

    /// <summary>The idempotency key was used before for a different request: nothing was created.</summary>
    KeyConflict = 3,
}

[GenerateSerializer, Immutable, Alias("OrleansJobs.JobSubmitResult")]
public sealed record JobSubmitResult(
    [property: Id(0)] JobSubmitOutcome Outcome,
    [property: Id(1)] JobSnapshot? Job,
    [property: Id(2)] IReadOnlyList<JobParameterError> Errors);

/// <summary>Details of a control request.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.JobControl")]
public sealed record JobControl(
    [property: Id(0)] JobAction Action,
    [property: Id(1)] string Actor,
    [property: Id(2)] string? Reason,
    [property: Id(3)] bool FromCheckpoint,
    [property: Id(4)] bool Emergency = false);

/// <summary>What a control request did, and the job afterwards.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.JobControlResult")]
public sealed record JobControlResult(
    [property: Id(0)] JobActionKind Kind,
    [property: Id(1)] JobSnapshot? Job);
