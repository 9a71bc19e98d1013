using Orleans.Concurrency;
using OrleansJobs.Jobs;

namespace OrleansJobs.Libraries;

/// <summary>
/// A library of files, keyed by its id: its definition (name, root folder, settings) and its
/// lock, a lease held by one job at a time (the jobs that name the library wait for it in
/// priority-then-arrival order). Single activation makes "is anybody using it?" and "delete it"
/// one decision.
/// </summary>
[Alias("OrleansJobs.ILibraryGrain")]
public interface ILibraryGrain : IGrainWithStringKey
{
    /// <summary>Creates the library; the same definition again answers <see cref="LibraryOutcome.Existing"/>, a different one <see cref="LibraryOutcome.Conflict"/>.</summary>
    [Alias("Create")]
    Task<LibraryResult> CreateAsync(LibraryDefinition definition, string actor);

    /// <summary>The library with its lock's holder and waiters; null when it does not exist.</summary>
    [AlwaysInterleave, Alias("Get")]
    Task<LibrarySnapshot?> GetAsync();

    /// <summary>Changes the name or settings (never the root: a job's paths and the catalog are relative to it).</summary>
    [Alias("Update")]
    Task<LibraryResult> UpdateAsync(LibraryUpdate update, string actor);

    /// <summary>
    /// Deletes the library and its catalog. Refused while a job holds or waits for its lock, unless
    /// <paramref name="force"/>: then those jobs are cancelled first (a holder that does not stop in
    /// time is killed), and the library is deleted once its lock is free.
    /// </summary>
    [Alias("Delete")]
    Task<LibraryDeleteResult> DeleteAsync(bool force, string actor);

    /// <summary>The library's root and settings for a job that holds its lock; null when it does not exist.</summary>
    [AlwaysInterleave, Alias("Definition")]
    Task<LibraryDefinition?> GetDefinitionAsync();

    /// <summary>
    /// Creates the library from an archive, under the rules of <see cref="CreateAsync"/> (its root must be an
    /// existing folder under an allowed base, overlapping no other library's), keeping its times and version.
    /// A library that exists is left as it is (<see cref="LibraryOutcome.Existing"/>).
    /// </summary>
    [Alias("Import")]
    Task<LibraryResult> ImportAsync(ArchivedLibrary library, string actor);
}

/// <summary>What a library is: a display name, a root folder under an allowed base, and settings.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.LibraryDefinition")]
public sealed record LibraryDefinition(
    [property: Id(0)] string Name,
    [property: Id(1)] string Root,
    [property: Id(2)] LibrarySettings Settings);

/// <summary>A library's settings; each has a default.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.LibrarySettings")]
public sealed record LibrarySettings(
    [property: Id(0)] int ThumbnailSize = LibrarySettings.DefaultThumbnailSize,
    [property: Id(1)] string ThumbnailFolder = LibrarySettings.DefaultThumbnailFolder,
    [property: Id(2)] string Layout = LibrarySettings.DefaultLayout)
{
    public const int DefaultThumbnailSize = 256;
    public const int MinThumbnailSize = 16;
    public const int MaxThumbnailSize = 2048;
    public const string DefaultThumbnailFolder = ".thumbnails";
    public const string DefaultLayout = "{year}/{month}/{name}";
}

/// <summary>A change of a library's name or settings; null members stay as they are.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.LibraryUpdate")]
public sealed record LibraryUpdate(
    [property: Id(0)] string? Name,
    [property: Id(1)] int? ThumbnailSize,
    [property: Id(2)] string? ThumbnailFolder,
    [property: Id(3)] string? Layout);

/// <summary>A library as the API shows it.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.LibrarySnapshot")]
public sealed record LibrarySnapshot(
    [property: Id(0)] string Id,
    [property: Id(1)] string Name,
    [property: Id(2)] string Root,
    [property: Id(3)] LibrarySettings Settings,
    [property: Id(4)] DateTimeOffset CreatedAt,
    [property: Id(5)] DateTimeOffset UpdatedAt,
    [property: Id(6)] long Version,
    [property: Id(7)] string? LockHolder,
    [property: Id(8)] IReadOnlyList<string> Waiting,
    [property: Id(9)] int WaitingCount);

[GenerateSerializer, Alias("OrleansJobs.LibraryOutcome")]
public enum LibraryOutcome
{
    Created = 0,
    Existing = 1,
    Updated = 2,
    Invalid = 3,
    Conflict = 4,
    NotFound = 5,
}

/// <summary>How a create or update went; <see cref="Errors"/> name the request's fields.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.LibraryResult")]
public sealed record LibraryResult(
    [property: Id(0)] LibraryOutcome Outcome,
    [property: Id(1)] LibrarySnapshot? Library,
    [property: Id(2)] IReadOnlyList<JobParameterError> Errors);

[GenerateSerializer, Alias("OrleansJobs.LibraryDeleteOutcome")]
public enum LibraryDeleteOutcome
{
    Deleted = 0,
    NotFound = 1,

    /// <summary>A job holds or waits for the lock (and no force was asked for, or the jobs did not stop in time).</summary>
    InUse = 2,
}

/// <summary>How a delete went: the jobs in the way, or those cancelled or killed to make way.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.LibraryDeleteResult")]
public sealed record LibraryDeleteResult(
    [property: Id(0)] LibraryDeleteOutcome Outcome,
    [property: Id(1)] IReadOnlyList<string> Holders,
    [property: Id(2)] IReadOnlyList<string> Waiting,
    [property: Id(3)] IReadOnlyList<string> Stopped);
