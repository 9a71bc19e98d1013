using System.Text.Json;
using System.Text.Json.Serialization;

namespace OrleansJobs.Jobs;

/// <summary>
/// The part of a job's stored state (its checkpoint, the <c>grain_state</c> row of <c>job/{id}</c>)
/// that the API shows. The job grain's state extends it; the API host reads it directly when the
/// job's silo does not answer. Stored as JSON keyed by property name: add properties, never rename
/// or retype them.
/// </summary>
public class StoredJob
{
    /// <summary>The on-disk JSON format of grain states: property names as declared, enums by name, nulls left out.</summary>
    public static JsonSerializerOptions JsonOptions { get; } = new(JsonSerializerDefaults.General)
    {
        Converters = { new JsonStringEnumConverter() },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Name of the job state in the <c>grain_state</c> table.</summary>
    public const string StateName = "job";

    /// <summary>The <c>grain_state.grain_id</c> of a job.</summary>
    public static string GrainId(string jobId) => $"job/{jobId}";

    public bool Exists { get; set; }

    public string Type { get; set; } = "";

    public string ParametersJson { get; set; } = "{}";

    public int Priority { get; set; }

    public int MaxAttempts { get; set; }

    public string? IdempotencyKey { get; set; }

    public JobStatus Status { get; set; }

    public string? QueuedReason { get; set; }

    public string? Error { get; set; }

    public int Attempt { get; set; }

    /// <summary>When a failed attempt is retried.</summary>
    public DateTimeOffset? RetryAt { get; set; }

    public JobCheckpoint Checkpoint { get; set; } = JobCheckpoint.Start;

    public JobProgress Progress { get; set; } = JobProgress.None;

    public List<JobMessage> Messages { get; set; } = [];

    public List<JobAttempt> Attempts { get; set; } = [];

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? StartedAt { get; set; }

    public DateTimeOffset? FinishedAt { get; set; }

    public DateTimeOffset? LastProgressAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    public string? OwnerSilo { get; set; }

    /// <summary>Times the job resumed from its checkpoint after losing its run (silo death, watchdog restart).</summary>
    public int Recoveries { get; set; }

    /// <summary>External types: the worker holding the lease.</summary>
    public string? LeaseWorker { get; set; }

    /// <summary>Incremented by every write; the index row carries it so older rows never win.</summary>
    public long Version { get; set; }

    /// <summary>The library whose lock the job holds while it runs; null for a job that needs none.</summary>
    public string? LibraryId { get; set; }

    /// <summary>How long the job may wait for its library's lock before it fails; null: as long as it takes.</summary>
    public int? LockWaitSeconds { get; set; }

    /// <summary>The device the job runs on (it owns it from its grant until it ends); null for a job that needs none.</summary>
    public string? DeviceId { get; set; }

    /// <summary>The kind of device the job asked for when it named no device: the first free one of the kind becomes <see cref="DeviceId"/>.</summary>
    public string? DeviceKind { get; set; }

    /// <summary>Why the job's device stopped it (set while it is paused by a disconnect or a fault); null otherwise.</summary>
    public string? Interruption { get; set; }

    /// <summary>
    /// The job as the API shows it: as stored, or with the live run's progress and messages and the
    /// lease's live end when the job's activation supplies them.
    /// </summary>
    public JobSnapshot ToSnapshot(
        string jobId, JobProgress? liveProgress = null, IReadOnlyList<JobMessage>? liveMessages = null, DateTimeOffset? leaseExpiresAt = null) => new(
        jobId, Type, Status, liveProgress ?? Progress, Attempt, MaxAttempts,
        JobTransitions.IsTerminal(Status) ? null : OwnerSilo, CreatedAt, StartedAt, FinishedAt,
        Error, QueuedReason, Checkpoint, liveMessages ?? Messages, Attempts.ToList(),
        Priority, IdempotencyKey, Recoveries, Version, ParametersJson,
        Status == JobStatus.Queued ? RetryAt : null, LeaseWorker, leaseExpiresAt, LibraryId, LockWaitSeconds, DeviceId, Interruption, DeviceKind);
}
