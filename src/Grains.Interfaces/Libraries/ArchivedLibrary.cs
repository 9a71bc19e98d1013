namespace OrleansJobs.Libraries;

/// <summary>A library as an archive carries it: its definition, when it was created and last changed, and its version.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.ArchivedLibrary")]
public sealed record ArchivedLibrary(
    [property: Id(0)] string Name,
    [property: Id(1)] string Root,
    [property: Id(2)] LibrarySettings Settings,
    [property: Id(3)] DateTimeOffset CreatedAt,
    [property: Id(4)] DateTimeOffset UpdatedAt,
    [property: Id(5)] long Version);
