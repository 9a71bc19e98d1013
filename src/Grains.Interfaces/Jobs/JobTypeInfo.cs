namespace OrleansJobs.Jobs;

/// <summary>A job type registered in the silos, as clients may know it.</summary>
/// <param name="Name">The name submissions use in <c>type</c>.</param>
/// <param name="External">Run by external workers over HTTP rather than in the silo.</param>
/// <param name="StallTimeout">A run of this type without progress this long is stalled (the type's own, or the watchdog's default).</param>
[GenerateSerializer, Immutable, Alias("OrleansJobs.JobTypeInfo")]
public sealed record JobTypeInfo(
    [property: Id(0)] string Name,
    [property: Id(1)] bool External,
    [property: Id(2)] TimeSpan StallTimeout);
