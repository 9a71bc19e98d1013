using System.Text.RegularExpressions;
using OrleansJobs.Jobs;

namespace OrleansJobs.Libraries;

/// <summary>What a library's name, root and settings must be; each error names its request field.</summary>
public static partial class LibraryRules
{
    /// <summary>The placeholders a layout may use.</summary>
    public static IReadOnlyList<string> LayoutTokens { get; } = ["{year}", "{month}", "{day}", "{name}", "{stem}", "{ext}"];

    public static void CheckName(string? name, List<JobParameterError> errors, string field = "name")
    {
        if (name is null || string.IsNullOrWhiteSpace(name) || name.Length > LibraryLimits.MaxNameLength || name.Any(char.IsControl) || !StorableText.IsStorable(name))
        {
            errors.Add(new(field, $"must be 1 to {LibraryLimits.MaxNameLength} characters, not blank, without control characters"));
        }
    }

    public static void CheckSettings(LibrarySettings settings, List<JobParameterError> errors, string prefix = "settings.")
    {
        if (settings.ThumbnailSize is < LibrarySettings.MinThumbnailSize or > LibrarySettings.MaxThumbnailSize)
        {
            errors.Add(new(prefix + "thumbnailSize", $"must be a whole number from {LibrarySettings.MinThumbnailSize} to {LibrarySettings.MaxThumbnailSize}"));
        }

        if (LibraryPaths.RelativeError(settings.ThumbnailFolder, 256) is { } folderError)
        {
            errors.Add(new(prefix + "thumbnailFolder", folderError));
        }

        if (LayoutError(settings.Layout) is { } layoutError)
        {
            errors.Add(new(prefix + "layout", layoutError));
        }
    }

    /// <summary>Null when <paramref name="layout"/> is a usable target layout, else what is wrong.</summary>
    public static string? LayoutError(string? layout)
    {
        if (layout is null)
        {
            return "must be a relative path pattern such as {year}/{month}/{name}";
        }

        foreach (Match token in Placeholder().Matches(layout))
        {
            if (!LayoutTokens.Contains(token.Value))
            {
                return $"unknown placeholder {token.Value} (known: {string.Join(", ", LayoutTokens)})";
            }
        }

        if (!layout.EndsWith("{name}", StringComparison.Ordinal) && !layout.EndsWith("{stem}{ext}", StringComparison.Ordinal))
        {
            return "must end with {name} (or {stem}{ext}): every file keeps its name";
        }

        // With sample values in place it must be a plain relative path.
        var sample = layout.Replace("{year}", "2024", StringComparison.Ordinal).Replace("{month}", "01", StringComparison.Ordinal)
            .Replace("{day}", "01", StringComparison.Ordinal).Replace("{name}", "a.jpg", StringComparison.Ordinal)
            .Replace("{stem}", "a", StringComparison.Ordinal).Replace("{ext}", ".jpg", StringComparison.Ordinal);
        return sample.Contains('{', StringComparison.Ordinal) || sample.Contains('}', StringComparison.Ordinal)
            ? "braces are only allowed around placeholders"
            : LibraryPaths.RelativeError(sample, 512);
    }

    [GeneratedRegex(@"\{[^{}]*\}")]
    private static partial Regex Placeholder();
}
