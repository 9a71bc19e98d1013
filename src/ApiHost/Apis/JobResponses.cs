using System.Text.Json;
using OrleansJobs.Jobs;

namespace OrleansJobs.ApiHost.Apis;

/// <summary>A job as the API shows it.</summary>
/// <param name="Id">The job's id.</param>
/// <param name="Type">Its job type.</param>
/// <param name="Status">Where it is in its lifecycle.</param>
/// <param name="Progress">Items processed, of how many, and the fraction done.</param>
/// <param name="Attempt">The current attempt, from 1.</param>
/// <param name="MaxAttempts">Attempts allowed before the job fails for good.</param>
/// <param name="Silo">The silo answerable for it while it is active.</param>
/// <param name="CreatedAt">When it was submitted.</param>
/// <param name="StartedAt">When its current attempt started.</param>
/// <param name="FinishedAt">When it reached a terminal status.</param>
/// <param name="Error">Why it failed, when it did.</param>
/// <param name="QueuedReason">Why it waits, while Queued.</param>
/// <param name="Checkpoint">Where a run resumes: the last stored checkpoint.</param>
/// <param name="Messages">The latest messages its runs left (bounded).</param>
/// <param name="Attempts">Its attempts so far.</param>
/// <param name="Priority">Higher starts first.</param>
/// <param name="IdempotencyKey">The submission's idempotency key, if any.</param>
/// <param name="Recoveries">Times it resumed from its checkpoint after losing its run.</param>
/// <param name="Parameters">The submitted parameters.</param>
/// <param name="RunAfter">While Queued for a retry or a later start: when it may start.</param>
/// <param name="Worker">External types: the worker that holds its lease.</param>
/// <param name="LeaseExpiresAt">External types: when that lease ends unless renewed.</param>
/// <param name="Version">Incremented by every stored change.</param>
/// <param name="Library">The library whose lock it runs under, if any.</param>
/// <param name="LockWaitSeconds">How long it may wait for that lock before it fails; null: as long as it takes.</param>
/// <param name="Device">The device it runs on (and owns until it ends), if any.</param>
/// <param name="DeviceKind">The kind of device it asked for, when it named none.</param>
/// <param name="Interruption">Why its device stopped it (<c>heartbeat_lost</c>, or the fault the agent reported) while it is paused by that; null otherwise.</param>
/// <param name="SiloUnreachable">
/// True when the job's silo did not answer in time (it died and is not yet declared dead, or it is
/// frozen or cut off): the job is shown as its last write stored it, so progress, checkpoint and
/// messages may trail the live job by one checkpoint. False for a live read.
/// </param>
public sealed record JobResponse(
    string Id,
    string Type,
    JobStatus Status,
    JobProgress Progress,
    int Attempt,
    int MaxAttempts,
    string? Silo,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    string? Error,
    string? QueuedReason,
    JobCheckpoint Checkpoint,
    IReadOnlyList<JobMessage> Messages,
    IReadOnlyList<JobAttempt> Attempts,
    int Priority,
    string? IdempotencyKey,
    int Recoveries,
    JsonElement Parameters,
    DateTimeOffset? RunAfter,
    string? Worker,
    DateTimeOffset? LeaseExpiresAt,
    long Version,
    string? Library = null,
    int? LockWaitSeconds = null,
    bool SiloUnreachable = false,
    string? Device = null,
    string? Interruption = null,
    string? DeviceKind = null)
{
    public static JobResponse From(JobSnapshot job, bool siloUnreachable = false) => new(
        job.Id, job.Type, job.Status, job.Progress, job.Attempt, job.MaxAttempts, job.Silo, job.CreatedAt, job.StartedAt,
        job.FinishedAt, job.Error, job.QueuedReason, job.Checkpoint, job.Messages, job.Attempts, job.Priority,
        job.IdempotencyKey, job.Recoveries, JsonDocument.Parse(job.ParametersJson).RootElement.Clone(), job.RunAfter, job.Worker,
        job.LeaseExpiresAt, job.Version, job.Library, job.LockWaitSeconds, siloUnreachable, job.Device, job.Interruption, job.DeviceKind);
}

/// <summary>One journal entry as the API shows it (also one line of the <c>jsonl</c> format).</summary>
/// <param name="Seq">Position in the job's journal, from 1.</param>
/// <param name="At">When it happened.</param>
/// <param name="Type">What happened: submitted, state_change, recovery, stall_detected, lease_expired, checkpoint_saved, ...</param>
/// <param name="From">Status before, for a state change.</param>
/// <param name="To">Status after, for a state change.</param>
/// <param name="Reason">Why, in words.</param>
/// <param name="Actor">Who or what caused it: api:&lt;address&gt;, worker:&lt;id&gt;, system.</param>
/// <param name="Silo">The silo it happened on.</param>
/// <param name="Data">Details of the entry, when it has any.</param>
public sealed record JournalEntryResponse(
    long Seq, DateTimeOffset At, string Type, string? From, string? To, string? Reason, string? Actor, string? Silo, JsonElement? Data);

/// <summary>A job in a listing: its row of the job index.</summary>
public sealed record JobSummary(
    string Id, string Type, JobStatus Status, int Priority, double Fraction, long Processed, long? Total, int Attempt,
    int Recoveries, string? Silo, string? QueuedReason, string? Error, DateTimeOffset CreatedAt, DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt, DateTimeOffset? LastProgressAt, DateTimeOffset UpdatedAt, string? Device = null, string? Interruption = null);

/// <summary>A page of jobs, newest first; pass <see cref="NextCursor"/> as <c>cursor</c> for the next page.</summary>
/// <param name="Items">The jobs of this page.</param>
/// <param name="NextCursor">The <c>cursor</c> of the next page; null on the last page.</param>
public sealed record JobPage(IReadOnlyList<JobSummary> Items, string? NextCursor);
