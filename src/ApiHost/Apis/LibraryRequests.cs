using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.Mvc;
using OrleansJobs.ApiHost.Hosting;
using OrleansJobs.Libraries;

namespace OrleansJobs.ApiHost.Apis;

/// <summary>Body of <c>POST /api/libraries</c>.</summary>
/// <param name="Id">The library's id, chosen by you: 1 to 64 lower-case letters, digits and dashes.</param>
/// <param name="Name">Display name, 1 to 200 characters.</param>
/// <param name="Root">Absolute path of an existing folder under one of the silos' allowed base folders (Libraries:AllowedRoots); symbolic links are resolved first.</param>
/// <param name="Settings">Settings; each has a default.</param>
public sealed record CreateLibraryRequest(
    [property: Required(ErrorMessage = "is required"), LibraryId] string Id,
    [property: Required(ErrorMessage = "is required"), StringLength(LibraryLimits.MaxNameLength, MinimumLength = 1, ErrorMessage = "must be a string of 1 to {1} characters")]
    string Name,
    [property: Required(ErrorMessage = "is required"), StringLength(LibraryLimits.MaxRootLength, MinimumLength = 1, ErrorMessage = "must be a string of 1 to {1} characters")]
    string Root,
    LibrarySettingsRequest? Settings = null)
{
    public LibraryDefinition ToDefinition()
    {
        var defaults = new LibrarySettings();
        return new LibraryDefinition(Name, Root, new LibrarySettings(
            Settings?.ThumbnailSize ?? defaults.ThumbnailSize, Settings?.ThumbnailFolder ?? defaults.ThumbnailFolder, Settings?.Layout ?? defaults.Layout));
    }
}

/// <summary>A library's settings; omitted members keep their value (or default).</summary>
/// <param name="ThumbnailSize">Longest side of a thumbnail in pixels, 16 to 2048 (default 256).</param>
/// <param name="ThumbnailFolder">Where thumbnails go, relative to the root (default <c>.thumbnails</c>); analysis skips it.</param>
/// <param name="Layout">Default target layout of organize, relative to its target folder: placeholders {year}, {month}, {day}, {name}, {stem}, {ext}; ends with {name} (default <c>{year}/{month}/{name}</c>).</param>
public sealed record LibrarySettingsRequest(
    [property: Range(LibrarySettings.MinThumbnailSize, LibrarySettings.MaxThumbnailSize, ErrorMessage = "must be a whole number from {1} to {2}")]
    int? ThumbnailSize = null,
    [property: StringLength(256, MinimumLength = 1, ErrorMessage = "must be a string of 1 to {1} characters")]
    string? ThumbnailFolder = null,
    [property: StringLength(512, MinimumLength = 1, ErrorMessage = "must be a string of 1 to {1} characters")]
    string? Layout = null);

/// <summary>Body of <c>PATCH /api/libraries/{id}</c>: the members given change, the others stay. The root never changes.</summary>
/// <param name="Name">New display name.</param>
/// <param name="Settings">Settings to change.</param>
public sealed record UpdateLibraryRequest(
    [property: StringLength(LibraryLimits.MaxNameLength, MinimumLength = 1, ErrorMessage = "must be a string of 1 to {1} characters")]
    string? Name = null,
    LibrarySettingsRequest? Settings = null)
{
    public LibraryUpdate ToUpdate() => new(Name, Settings?.ThumbnailSize, Settings?.ThumbnailFolder, Settings?.Layout);
}

/// <summary>A library as the API shows it.</summary>
/// <param name="Id">Its id.</param>
/// <param name="Name">Its display name.</param>
/// <param name="Root">Its canonical root folder.</param>
/// <param name="Settings">Its settings.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="UpdatedAt">When it last changed.</param>
/// <param name="Version">Incremented by every change.</param>
/// <param name="LockHolder">The job that holds its lock, if any.</param>
/// <param name="Waiting">The first jobs waiting for its lock, in the order they will get it.</param>
/// <param name="WaitingCount">How many jobs wait for its lock.</param>
/// <param name="SiloUnreachable">True when the library's silo did not answer in time: shown from the libraries table, without its lock.</param>
public sealed record LibraryResponse(
    string Id, string Name, string Root, LibrarySettings Settings, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, long Version,
    string? LockHolder, IReadOnlyList<string> Waiting, int WaitingCount, bool SiloUnreachable = false)
{
    public static LibraryResponse From(LibrarySnapshot library) => new(
        library.Id, library.Name, library.Root, library.Settings, library.CreatedAt, library.UpdatedAt, library.Version,
        library.LockHolder, library.Waiting, library.WaitingCount);
}

/// <summary>A library in a listing.</summary>
/// <param name="Id">Its id.</param>
/// <param name="Name">Its display name.</param>
/// <param name="Root">Its canonical root folder.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="UpdatedAt">When it last changed.</param>
/// <param name="LockHolder">The job the job index shows running on it, if any.</param>
public sealed record LibrarySummary(string Id, string Name, string Root, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, string? LockHolder);

/// <summary>A page of libraries by id; pass <see cref="NextCursor"/> as <c>cursor</c> for the next page.</summary>
/// <param name="Items">The libraries of this page.</param>
/// <param name="NextCursor">The <c>cursor</c> of the next page; null on the last page.</param>
public sealed record LibraryPage(IReadOnlyList<LibrarySummary> Items, string? NextCursor);

/// <summary>Page of <c>GET /api/libraries</c>.</summary>
/// <param name="Limit">Page size, 1 to 500 (default 50).</param>
/// <param name="Cursor">The <c>nextCursor</c> of the previous page.</param>
public sealed record ListLibrariesQuery(
    [property: FromQuery(Name = "limit"), Range(1, ListJobsQuery.MaxLimit, ErrorMessage = "must be a whole number from {1} to {2}")] int? Limit = null,
    [property: FromQuery(Name = "cursor"), LibraryId] string? Cursor = null);

/// <summary>A file of a library's catalog, as its last analysis found it.</summary>
/// <param name="Path">Path relative to the library's root.</param>
/// <param name="SizeBytes">Size in bytes.</param>
/// <param name="ModifiedAt">Last modification time.</param>
/// <param name="Sha256">SHA-256 of the content, lower-case hex.</param>
/// <param name="ScannedAt">When an analysis last saw it.</param>
/// <param name="RemovedAt">When an analysis found it gone; null while it exists.</param>
/// <param name="JobId">The analysis that last saw it.</param>
public sealed record CatalogEntry(
    string Path, long SizeBytes, DateTimeOffset ModifiedAt, string? Sha256, DateTimeOffset ScannedAt, DateTimeOffset? RemovedAt, string? JobId);

/// <summary>A page of a library's catalog by path; pass <see cref="NextCursor"/> as <c>cursor</c> for the next page.</summary>
/// <param name="Items">The files of this page.</param>
/// <param name="NextCursor">The <c>cursor</c> of the next page; null on the last page.</param>
public sealed record CatalogPage(IReadOnlyList<CatalogEntry> Items, string? NextCursor);

/// <summary>Filters and page of <c>GET /api/libraries/{id}/catalog</c>.</summary>
/// <param name="Prefix">Only paths that start with this text (e.g. <c>2024/</c>).</param>
/// <param name="Sha256">Only files with this content (64 hex digits).</param>
/// <param name="Duplicates">true: only files whose content another present file of the library has too.</param>
/// <param name="IncludeRemoved">true: also files the last analysis found gone.</param>
/// <param name="Limit">Page size, 1 to 500 (default 50).</param>
/// <param name="Cursor">The <c>nextCursor</c> of the previous page.</param>
public sealed record CatalogQuery(
    [property: FromQuery(Name = "prefix"), QueryText(1024)] string? Prefix = null,
    [property: FromQuery(Name = "sha256"), RegularExpression("^[0-9a-fA-F]{64}$", ErrorMessage = "must be 64 hexadecimal digits")] string? Sha256 = null,
    [property: FromQuery(Name = "duplicates")] bool? Duplicates = null,
    [property: FromQuery(Name = "includeRemoved")] bool? IncludeRemoved = null,
    [property: FromQuery(Name = "limit"), Range(1, ListJobsQuery.MaxLimit, ErrorMessage = "must be a whole number from {1} to {2}")] int? Limit = null,
    [property: FromQuery(Name = "cursor")] PathCursor? Cursor = null);

/// <summary>Where a page ordered by path continues: after <see cref="Path"/>.</summary>
public readonly record struct PathCursor(string Path) : IQueryValue
{
    public override string ToString() => CursorText.Encode(Path);

    public static bool TryParse(string? value, out PathCursor cursor)
    {
        var text = CursorText.Decode(value, 2800);
        cursor = text is null ? default : new PathCursor(text);
        return text is not null;
    }
}
