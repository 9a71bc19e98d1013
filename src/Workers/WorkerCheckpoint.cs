namespace OrleansJobs.Workers;

/// <summary>Where a new run of the job resumes; the supervisor stores it durably and hands it to the next claim.</summary>
/// <param name="Cursor">The worker's own resume position, opaque to the supervisor (at most 16 KiB of text).</param>
/// <param name="Processed">Items done.</param>
/// <param name="Counters">The worker's own counters by name (at most 100, names of 1 to 100 characters).</param>
public sealed record WorkerCheckpoint(string? Cursor, long Processed = 0, IReadOnlyDictionary<string, long>? Counters = null)
{
    /// <summary>Nothing done yet.</summary>
    public static WorkerCheckpoint Start { get; } = new(Cursor: null);
}
