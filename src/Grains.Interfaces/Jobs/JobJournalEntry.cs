namespace OrleansJobs.Jobs;

/// <summary>
/// One entry of a job's append-only journal: a status change, a recovery, a stall, a lock taken
/// or released… <see cref="Seq"/> numbers a job's entries from 1 without gaps; (job, seq) is
/// unique, so writing an entry twice stores it once.
/// </summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.JobJournalEntry")]
public sealed record JobJournalEntry(
    [property: Id(0)] string JobId,
    [property: Id(1)] long Seq,
    [property: Id(2)] DateTimeOffset At,
    [property: Id(3)] string Type,
    [property: Id(4)] JobStatus? From,
    [property: Id(5)] JobStatus? To,
    [property: Id(6)] string? Reason,
    [property: Id(7)] string? Actor,
    [property: Id(8)] string? Silo,
    [property: Id(9)] string? DataJson);
