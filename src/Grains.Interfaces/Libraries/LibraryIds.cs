using OrleansJobs.Hosting;

namespace OrleansJobs.Libraries;

/// <summary>Library ids: chosen by whoever creates the library (<see cref="Slugs"/>).</summary>
public static class LibraryIds
{
    public const int MaxLength = Slugs.MaxLength;

    public const string Rule = Slugs.Rule;

    public static bool IsValid(string? id) => Slugs.IsValid(id);
}

/// <summary>Bounds of a library's definition, checked by the API host and the library grain alike.</summary>
public static class LibraryLimits
{
    public const int MaxNameLength = 200;
    public const int MaxRootLength = 1024;
}
