using System.Text.Json.Serialization;
using OrleansJobs.Storage;

namespace OrleansJobs.Jobs;

/// <summary>
/// A job's durable state in the <c>jobs</c> store: the checkpoint. Stored as JSON, so the
/// property names are the on-disk format: add properties, never rename or retype them. What the
/// API shows is in <see cref="StoredJob"/>; this adds what only the job itself needs.
/// </summary>
public sealed class JobState : StoredJob, IWatchedState
{
    /// <summary>SHA-256 of the submission, to tell a repeated request from a different one under the same key.</summary>
    public string RequestFingerprint { get; set; } = "";

    public int CheckpointEveryItems { get; set; }

    public TimeSpan CheckpointInterval { get; set; }

    /// <summary>Fencing token of the current run; a new run or a kill increments it.</summary>
    public long RunEpoch { get; set; }

    /// <summary>Whether the start this queued job waits for begins a new attempt (submit, restart, retry) or continues one (resume, recovery).</summary>
    public bool StartAsNewAttempt { get; set; }

    /// <summary>Watchdog restarts (stalled or overdue) spent by the current attempt, out of the type's MaxRecoveries.</summary>
    public int WatchdogRestarts { get; set; }

    /// <summary>Whether a watchdog reminder may exist for this job (it is removed when the job pauses or ends).</summary>
    public bool WatchdogRegistered { get; set; }

    /// <summary>The run was stopped at its checkpoint because its silo shut down; the next activation continues it.</summary>
    public string? HandedOverBy { get; set; }

    /// <summary>External types: the token of the worker lease under which the job runs; null when no worker holds it.</summary>
    public string? LeaseToken { get; set; }

    /// <summary>External types: how long the lease lasts after each report.</summary>
    public TimeSpan LeaseDuration { get; set; }

    /// <summary>External types: the lease's end as of the last write (heartbeats extend it in memory only).</summary>
    public DateTimeOffset? LeaseExpiresAt { get; set; }

    /// <summary>Resources the job holds (<c>kind:id</c>, see <c>ResourceKey</c>), in acquisition order.</summary>
    public List<string> Held { get; set; } = [];

    /// <summary>When the job, waiting for its library's lock, fails (from <see cref="StoredJob.LockWaitSeconds"/>); null while it does not wait for it.</summary>
    public DateTimeOffset? LockWaitUntil { get; set; }

    /// <summary>Silo of the activation that last wrote this state.</summary>
    public string? ActiveSilo { get; set; }

    /// <summary>A job that runs or waits must be picked up if <see cref="ActiveSilo"/> dies; a paused or finished one need not.</summary>
    [JsonIgnore]
    public string? WatchedBy => Exists && Status is JobStatus.Queued or JobStatus.Running or JobStatus.Cancelling or JobStatus.Pausing ? ActiveSilo : null;

    /// <summary>Status and version (<c>Completed@7</c>), or <c>absent</c>: what the job's index row must show.</summary>
    [JsonIgnore]
    public string Summary => StateSummary(Exists, Status, Version);

    string? IWatchedState.Summary => Summary;

    /// <summary>The summary of a job's state, as <c>grain_state.summary</c> holds it.</summary>
    public static string StateSummary(bool exists, JobStatus status, long version) => exists ? $"{status}@{version}" : "absent";

    /// <summary>Sequence number of the last journal entry.</summary>
    public long JournalSeq { get; set; }

    /// <summary>Journal entries durable here but not yet confirmed in <c>job_journal</c>.</summary>
    public List<JobJournalEntry> Outbox { get; set; } = [];
}
