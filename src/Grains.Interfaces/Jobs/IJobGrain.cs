using Orleans.Concurrency;

namespace OrleansJobs.Jobs;

/// <summary>
/// One job, keyed by its id. Single activation is the job's lock: every change of its state
/// happens here, one request at a time, while its handler runs off the grain scheduler.
/// </summary>
[Alias("OrleansJobs.IJobGrain")]
public interface IJobGrain : IGrainWithStringKey
{
    /// <summary>
    /// Creates the job and starts it, or returns the existing job when the same request was
    /// submitted before under this id. Invalid requests create nothing.
    /// </summary>
    [Alias("Submit")]
    Task<JobSubmitResult> SubmitAsync(JobSubmission submission);

    /// <summary>The job as it is now, with live progress; null when no job has this id. Answers while the job runs.</summary>
    [AlwaysInterleave, Alias("Get")]
    Task<JobSnapshot?> GetAsync();

    /// <summary>
    /// Cancel, kill, pause, resume, restart or force-fail. A repeated request answers
    /// <see cref="JobActionKind.AlreadyDone"/>; a request the current status forbids answers
    /// <see cref="JobActionKind.Conflict"/> and changes nothing. Null job: no job has this id.
    /// </summary>
    [Alias("Control")]
    Task<JobControlResult> ControlAsync(JobControl control);

    /// <summary>
    /// Leases this job to an external worker if it is queued and its type is external: it becomes
    /// Running under a new lease token. Null when it is not claimable (any longer).
    /// </summary>
    [Alias("Claim")]
    Task<WorkerLease?> ClaimAsync(string workerId, TimeSpan leaseDuration);

    /// <summary>A report of the worker holding the lease; refused, changing nothing, under any other token.</summary>
    [Alias("Report")]
    Task<WorkerReportResult> ReportAsync(WorkerReport report);

    /// <summary>
    /// Deletes a finished job: its state, index row, journal and file operations. Refused for a job that is
    /// not finished. A job whose state is gone has whatever rows were left of it deleted (a purge cut short).
    /// </summary>
    [Alias("Purge")]
    Task<JobPurgeOutcome> PurgeAsync(string actor);

    /// <summary>
    /// Restores the job from an archive: skipped when this job exists at the same or a newer version; otherwise
    /// its journal and file operations are restored and its state stored, a job that was waiting or running
    /// coming back Paused (nothing starts on its own), with an <c>imported</c> journal entry. Safe to repeat.
    /// </summary>
    /// <remarks>A job with a long transaction log writes many rows: the call may take up to a minute.</remarks>
    [Alias("Import"), ResponseTimeout("00:01:00")]
    Task<JobImportResult> ImportAsync(ImportedJob job);
}

/// <summary>What a purge did.</summary>
[GenerateSerializer, Alias("OrleansJobs.JobPurgeOutcome")]
public enum JobPurgeOutcome
{
    Purged = 0,

    /// <summary>No job has this id (rows left of an earlier purge were deleted).</summary>
    NotFound = 1,

    /// <summary>The job is not finished: nothing was deleted.</summary>
    Active = 2,
}
