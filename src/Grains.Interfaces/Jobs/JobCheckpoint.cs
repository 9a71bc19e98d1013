namespace OrleansJobs.Jobs;

/// <summary>
/// Where a job's handler resumes after a crash, pause or restart: an opaque cursor the handler
/// understands (the last finished item), how many items it has finished, and its own counters.
/// Persisted in the job's grain state, so property names are the on-disk format.
/// </summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.JobCheckpoint")]
public sealed record JobCheckpoint(
    [property: Id(0)] string? Cursor,
    [property: Id(1)] long Processed,
    [property: Id(2)] IReadOnlyDictionary<string, long> Counters)
{
    /// <summary>Nothing done yet.</summary>
    public static JobCheckpoint Start { get; } = new(null, 0, new Dictionary<string, long>());
}

/// <summary>Severity of a job message.</summary>
[GenerateSerializer, Alias("OrleansJobs.JobMessageLevel")]
public enum JobMessageLevel
{
    Info = 0,
    Warning = 1,
    Error = 2,
}

/// <summary>A message a handler left for operators.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.JobMessage")]
public sealed record JobMessage(
    [property: Id(0)] DateTimeOffset At,
    [property: Id(1)] JobMessageLevel Level,
    [property: Id(2)] string Text);

/// <summary>One invalid job parameter: which field (a JSON path such as <c>items</c>) and why.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.JobParameterError")]
public sealed record JobParameterError([property: Id(0)] string Field, [property: Id(1)] string Message);

/// <summary>A named part of a job's work with its share of the overall fraction.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.JobOperationProgress")]
public sealed record JobOperationProgress(
    [property: Id(0)] string Name,
    [property: Id(1)] double Weight,
    [property: Id(2)] long Processed,
    [property: Id(3)] long? Total);

/// <summary>
/// How far a job is: the overall fraction in [0, 1], items processed of total (total unknown
/// until the handler says), and the sub-operations whose weighted fractions make up the overall.
/// </summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.JobProgress")]
public sealed record JobProgress(
    [property: Id(0)] double Fraction,
    [property: Id(1)] long Processed,
    [property: Id(2)] long? Total,
    [property: Id(3)] IReadOnlyList<JobOperationProgress> Operations)
{
    public static JobProgress None { get; } = new(0, 0, null, []);
}
