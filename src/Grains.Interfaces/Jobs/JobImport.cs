namespace OrleansJobs.Jobs;

/// <summary>
/// A job read from an archive (<c>docs/archive.md</c>): its stored state as the archive carries it (the
/// JSON of the job's grain state), its journal and its file operations, for <see cref="IJobGrain.ImportAsync"/>.
/// </summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.ImportedJob")]
public sealed record ImportedJob(
    [property: Id(0)] string StateJson,
    [property: Id(1)] IReadOnlyList<JobJournalEntry> Journal,
    [property: Id(2)] IReadOnlyList<ArchivedFileOperation> Operations,
    [property: Id(3)] DateTimeOffset ExportedAt,
    [property: Id(4)] string Actor);

/// <summary>One row of a file job's transaction log (<c>file_operations</c>) as an archive carries it.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.ArchivedFileOperation")]
public sealed record ArchivedFileOperation(
    [property: Id(0)] long Seq,
    [property: Id(1)] string LibraryId,
    [property: Id(2)] string Operation,
    [property: Id(3)] string Source,
    [property: Id(4)] string Target,
    [property: Id(5)] byte[]? Sha256,
    [property: Id(6)] long? Size,
    [property: Id(7)] string Status,
    [property: Id(8)] string? Error,
    [property: Id(9)] string? Note,
    [property: Id(10)] string? RevertsJob,
    [property: Id(11)] long? RevertsSeq,
    [property: Id(12)] DateTimeOffset CreatedAt,
    [property: Id(13)] DateTimeOffset UpdatedAt)
{
    /// <summary>The <c>file_operations.operation</c> values.</summary>
    public static IReadOnlyList<string> Operations { get; } = ["copy", "move", "undo_copy", "undo_move"];

    /// <summary>The <c>file_operations.status</c> values.</summary>
    public static IReadOnlyList<string> Statuses { get; } = ["planned", "in_progress", "completed", "skipped", "failed", "rolled_back"];
}

/// <summary>What an import did with one job.</summary>
[GenerateSerializer, Alias("OrleansJobs.JobImportOutcome")]
public enum JobImportOutcome
{
    /// <summary>Stored as archived (it had ended, or was paused).</summary>
    Imported = 0,

    /// <summary>Stored, and Paused: it was waiting or running when it was archived.</summary>
    PausedOnImport = 1,

    /// <summary>This cluster has the job at the same or a newer version: nothing was changed.</summary>
    Skipped = 2,

    /// <summary>This cluster has an older version of the job that runs, waits or holds a resource: nothing was changed.</summary>
    Conflict = 3,

    /// <summary>The archived state is not a job state this cluster can store: nothing was changed.</summary>
    Invalid = 4,
}

/// <summary>The outcome of one job's import, and why when nothing was changed for a reason worth telling.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.JobImportResult")]
public sealed record JobImportResult([property: Id(0)] JobImportOutcome Outcome, [property: Id(1)] string? Error = null);
