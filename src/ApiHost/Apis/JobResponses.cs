using System.Text.Json;
using OrleansJobs.Jobs;

namespace OrleansJobs.ApiHost.Apis;

/// <summary>A job as the API shows it.</summary>
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
    long Version)
{
    public static JobResponse From(JobSnapshot job) => new(
        job.Id, job.Type, job.Status, job.Progress, job.Attempt, job.MaxAttempts, job.Silo, job.CreatedAt, job.StartedAt,
        job.FinishedAt, job.Error, job.QueuedReason, job.Checkpoint, job.Messages, job.Attempts, job.Priority,
        job.IdempotencyKey, job.Recoveries, JsonDocument.Parse(job.ParametersJson).RootElement.Clone(), job.RunAfter, job.Worker,
        job.LeaseExpiresAt, job.Version);
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
    DateTimeOffset? FinishedAt, DateTimeOffset? LastProgressAt, DateTimeOffset UpdatedAt);

/// <summary>A page of jobs, newest first; pass <see cref="NextCursor"/> as <c>cursor</c> for the next page.</summary>
/// <param name="Items">The jobs of this page.</param>
/// <param name="NextCursor">The <c>cursor</c> of the next page; null on the last page.</param>
public sealed record JobPage(IReadOnlyList<JobSummary> Items, string? NextCursor);
