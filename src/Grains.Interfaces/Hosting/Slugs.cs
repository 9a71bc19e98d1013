using System.Text.RegularExpressions;

namespace OrleansJobs.Hosting;

/// <summary>Ids chosen by whoever creates the thing (libraries, devices, device kinds): lower-case letters, digits and dashes.</summary>
public static partial class Slugs
{
    public const int MaxLength = 64;

    public const string Rule = "1 to 64 lower-case letters, digits and dashes, starting with a letter or digit";

    public static bool IsValid(string? id) => id is not null && Pattern().IsMatch(id);

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,63}$")]
    private static partial Regex Pattern();
}
