using System.Text.RegularExpressions;

namespace OrleansJobs.Libraries;

/// <summary>Library ids: chosen by whoever creates the library, lower-case letters, digits and dashes.</summary>
public static partial class LibraryIds
{
    public const int MaxLength = 64;

    public const string Rule = "1 to 64 lower-case letters, digits and dashes, starting with a letter or digit";

    public static bool IsValid(string? id) => id is not null && Pattern().IsMatch(id);

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,63}$")]
    private static partial Regex Pattern();
}

/// <summary>Bounds of a library's definition, checked by the API host and the library grain alike.</summary>
public static class LibraryLimits
{
    public const int MaxNameLength = 200;
    public const int MaxRootLength = 1024;
}
