using OrleansJobs.Jobs;

namespace OrleansJobs.Events;

/// <summary>
/// One live event of a job, as a silo publishes it. A journal entry carries its global
/// <see cref="EventId"/> (commit order, see docs/events.md); progress and messages carry none
/// (<see cref="EventId"/> 0) and are not replayable. The job's type, status, library and device
/// travel with each event so that API hosts can filter without a lookup.
/// </summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.JobEvent")]
public sealed record JobEvent(
    [property: Id(0)] long EventId,
    [property: Id(1)] string Kind,
    [property: Id(2)] string JobId,
    [property: Id(3)] string? JobType,
    [property: Id(4)] string? Status,
    [property: Id(5)] string? LibraryId,
    [property: Id(6)] string? DeviceId,
    [property: Id(7)] DateTimeOffset At)
{
    /// <summary>Kind of a journal entry (a transition, a recovery, a lock taken…): it has an event id.</summary>
    public const string JournalKind = "journal";

    /// <summary>Kind of a progress report of a running job (throttled per job).</summary>
    public const string ProgressKind = "progress";

    /// <summary>Kind of a message a handler or worker left.</summary>
    public const string MessageKind = "message";

    /// <summary>The journal entry, for <see cref="JournalKind"/>.</summary>
    [Id(8)]
    public JobJournalEntry? Entry { get; init; }

    /// <summary>The progress, for <see cref="ProgressKind"/>.</summary>
    [Id(9)]
    public JobProgress? Progress { get; init; }

    /// <summary>The message, for <see cref="MessageKind"/>.</summary>
    [Id(10)]
    public JobMessage? Message { get; init; }

    /// <summary>When the silo saw the entry committed (live events only): the start of delivery latency.</summary>
    [Id(11)]
    public DateTimeOffset? CommittedAt { get; init; }
}

/// <summary>Events a silo sends an API host in one call, in the order it learned them.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.JobEventBatch")]
public sealed record JobEventBatch([property: Id(0)] IReadOnlyList<JobEvent> Events);
