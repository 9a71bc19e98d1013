using Orleans.Concurrency;

namespace OrleansJobs.Safeguards;

/// <summary>
/// The cluster's state validator (one activation): compares what the silos and the database say
/// about every job and resource, and repairs what disagrees, each repair journaled on its job as
/// <c>validator_repair</c>. Runs every <c>Validator:ValidationInterval</c> from one silo, when a
/// silo starts, after an emergency cleanup, and on request; one run at a time.
/// </summary>
[Alias("OrleansJobs.IStateValidatorGrain")]
public interface IStateValidatorGrain : IGrainWithIntegerKey
{
    /// <summary>Runs the checks now and repairs what they find (dry: only counts it).</summary>
    /// <remarks>A run over many jobs takes longer than a request's usual budget: the call may take up to 30 minutes.</remarks>
    [Alias("Run"), ResponseTimeout("00:30:00")]
    Task<ValidationRun> RunAsync(ValidationRequest request);

    /// <summary>The last run that repaired (not a dry run), and the totals of every run since the grain's state was created.</summary>
    [ReadOnly, Alias("Status")]
    Task<ValidatorStatus> GetStatusAsync();
}

/// <summary>A validator run: why, by whom, and whether it only counts (<see cref="DryRun"/>).</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.ValidationRequest")]
public sealed record ValidationRequest(
    [property: Id(0)] string Reason,
    [property: Id(1)] string Actor,
    [property: Id(2)] bool DryRun);

/// <summary>
/// One run: what it found and repaired, counted by kind (<see cref="ValidatorFindings"/>), the jobs
/// it looked at, and a sample of what it found (kind and subject, at most 100).
/// </summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.ValidationRun")]
public sealed record ValidationRun(
    [property: Id(0)] string Reason,
    [property: Id(1)] bool DryRun,
    [property: Id(2)] DateTimeOffset StartedAt,
    [property: Id(3)] DateTimeOffset FinishedAt,
    [property: Id(4)] long JobsChecked,
    [property: Id(5)] IReadOnlyDictionary<string, int> Found,
    [property: Id(6)] IReadOnlyDictionary<string, int> Repaired,
    [property: Id(7)] IReadOnlyList<ValidatorFinding> Sample,
    [property: Id(8)] string Silo);

/// <summary>Something the validator found: its kind, what it concerns (a job, a resource, a table), and what was done.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.ValidatorFinding")]
public sealed record ValidatorFinding(
    [property: Id(0)] string Kind,
    [property: Id(1)] string Subject,
    [property: Id(2)] string Detail,
    [property: Id(3)] bool Repaired);

/// <summary>The validator's last repairing run and its totals since its state was created.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.ValidatorStatus")]
public sealed record ValidatorStatus(
    [property: Id(0)] ValidationRun? LastRun,
    [property: Id(1)] long Runs,
    [property: Id(2)] IReadOnlyDictionary<string, long> TotalFound,
    [property: Id(3)] IReadOnlyDictionary<string, long> TotalRepaired);

/// <summary>The kinds of findings (persisted in the validator's totals and shown by the API: never rename one).</summary>
public static class ValidatorFindings
{
    /// <summary>An index row whose status or version disagrees with the job's state: rewritten from the state.</summary>
    public const string IndexMismatch = "index_mismatch";

    /// <summary>A job with no index row: written from its state.</summary>
    public const string IndexMissing = "index_missing";

    /// <summary>An index row of a job that has no state: deleted with the job's other rows.</summary>
    public const string IndexOrphan = "index_orphan";

    /// <summary>A job running or waiting on a silo that is no longer an active member: recovered on a live silo.</summary>
    public const string JobOnGoneSilo = "job_on_gone_silo";

    /// <summary>A resource (run slot, library lock, device) held by a job that ended or does not exist: released.</summary>
    public const string StaleHolder = "stale_holder";

    /// <summary>A job in a resource's queue that no longer waits for it: removed from the queue.</summary>
    public const string StaleWaiter = "stale_waiter";

    /// <summary>A watchdog reminder of a job that neither runs nor waits (ended, paused or unknown): removed.</summary>
    public const string StaleReminder = "stale_reminder";

    /// <summary>File operations an ended job left in progress: settled from what the disk shows.</summary>
    public const string OperationsInProgress = "operations_in_progress";

    /// <summary>Catalog rows of a library that was deleted: deleted (counted in rows).</summary>
    public const string OrphanCatalogRows = "orphan_catalog_rows";

    /// <summary>File operation rows of a deleted library or of a purged job: deleted (counted in rows).</summary>
    public const string OrphanOperationRows = "orphan_operation_rows";

    /// <summary>Journal rows of a purged job: deleted (counted in rows).</summary>
    public const string OrphanJournalRows = "orphan_journal_rows";

    /// <summary>Every kind, in the order the validator checks them.</summary>
    public static IReadOnlyList<string> All { get; } =
    [
        JobOnGoneSilo, IndexMismatch, IndexMissing, IndexOrphan, StaleHolder, StaleWaiter, StaleReminder,
        OrphanCatalogRows, OrphanOperationRows, OrphanJournalRows, OperationsInProgress,
    ];
}
