using System.Globalization;
using MetadataExtractor;
using MetadataExtractor.Formats.Exif;

namespace OrleansJobs.Jobs.Files;

/// <summary>
/// The plan of an organize job: every file under its source folder (the target folder and the
/// thumbnails left out), in path order, with the target its layout gives it: the capture date from
/// the photo's Exif metadata, or else the file's modification time, fills {year}, {month} and
/// {day}. Targets the plan would give twice get a suffixed name, so no two operations share one.
/// </summary>
public static class OrganizePlan
{
    private static readonly HashSet<string> PhotoExtensions = new(StringComparer.OrdinalIgnoreCase)
    {
        ".jpg", ".jpeg", ".jpe", ".tif", ".tiff", ".heic", ".heif", ".png", ".webp", ".dng", ".nef", ".cr2", ".cr3", ".arw", ".orf", ".rw2",
    };

    /// <summary>Builds the operations (relative paths) for <paramref name="files"/>.</summary>
    public static List<FileOp> Build(IReadOnlyList<LibraryFile> files, string operation, string target, string layout)
    {
        var claimed = new HashSet<string>(StringComparer.Ordinal);
        var ops = new List<FileOp>(files.Count);
        foreach (var file in files)
        {
            var date = CaptureDate(file.FullPath) ?? file.ModifiedAt.UtcDateTime;
            var planned = target + "/" + Safe(Apply(layout, file.RelativePath, date));
            var note = (string?)null;
            if (!claimed.Add(planned))
            {
                var free = SafeFiles.FreeName("/" + planned, candidate => claimed.Contains(candidate[1..]))[1..];
                claimed.Add(free);
                note = $"another file of the plan goes to {planned}: planned as {Path.GetFileName(free)}";
                planned = free;
            }

            ops.Add(new FileOp { Seq = ops.Count + 1, Operation = operation, Source = file.RelativePath, Target = planned, Size = file.Size, Note = note });
        }

        return ops;
    }

    /// <summary>A filled layout as a plain relative path: a segment that came out empty, "." or ".." (a file named "...jpg" has the stem "..") becomes "_".</summary>
    public static string Safe(string path) =>
        string.Join('/', path.Split('/').Select(s => s is "" or "." or ".." || s.Any(char.IsControl) ? "_" : s));

    /// <summary>The layout with its placeholders filled for one file.</summary>
    public static string Apply(string layout, string relativePath, DateTime date)
    {
        var name = Path.GetFileName(relativePath);
        return layout
            .Replace("{year}", date.Year.ToString("0000", CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{month}", date.Month.ToString("00", CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{day}", date.Day.ToString("00", CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{name}", name, StringComparison.Ordinal)
            .Replace("{stem}", Path.GetFileNameWithoutExtension(name), StringComparison.Ordinal)
            .Replace("{ext}", Path.GetExtension(name), StringComparison.Ordinal);
    }

    /// <summary>When the photo was taken, from its Exif metadata; null for other files, or photos without it.</summary>
    public static DateTime? CaptureDate(string path)
    {
        if (!PhotoExtensions.Contains(Path.GetExtension(path)))
        {
            return null;
        }

        try
        {
            var directories = ImageMetadataReader.ReadMetadata(path);
            foreach (var exif in directories.OfType<ExifSubIfdDirectory>())
            {
                if (exif.TryGetDateTime(ExifDirectoryBase.TagDateTimeOriginal, out var taken) || exif.TryGetDateTime(ExifDirectoryBase.TagDateTimeDigitized, out taken))
                {
                    return taken;
                }
            }

            return directories.OfType<ExifIfd0Directory>().FirstOrDefault() is { } ifd0 && ifd0.TryGetDateTime(ExifDirectoryBase.TagDateTime, out var changed)
                ? changed
                : null;
        }
        catch (Exception ex) when (ex is not (OutOfMemoryException or OperationCanceledException))
        {
            return null; // not a photo after all, or metadata the reader cannot make sense of: the modification time stands in
        }
    }
}
