using System.Text.Json;
using OrleansJobs.Jobs.Handlers;
using OrleansJobs.Libraries;
using SkiaSharp;

namespace OrleansJobs.Jobs.Files;

/// <summary>
/// The <c>thumbnails</c> job type: writes a JPEG thumbnail of every image of a library (longest side
/// the library's thumbnail size) into its thumbnail folder, mirroring the image's path, skipping
/// images that have one (unless <c>force</c>). Each thumbnail is encoded into a temporary file,
/// flushed, and renamed into place, so a killed run never leaves a partial thumbnail; the folders
/// it wrote into are flushed before each checkpoint. The cursor is the last image done.
/// </summary>
public sealed class ThumbnailsJobHandler(IGrainFactory grains) : IJobHandler
{
    public const string TypeName = "thumbnails";

    private const int Quality = 80;

    private static readonly HashSet<string> ImageExtensions = new(StringComparer.OrdinalIgnoreCase) { ".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp" };

    public IReadOnlyList<JobParameterError> Validate(JsonElement parameters)
    {
        var errors = FileJobParameters.Members(parameters, TypeName, "force");
        if (errors.Count == 0)
        {
            FileJobParameters.Boolean(parameters, "force", errors);
        }

        return errors;
    }

    public async Task RunAsync(IJobContext context)
    {
        var force = FileJobParameters.Boolean(context.Parameters, "force", []) ?? false;
        var libraryId = context.LibraryId ?? throw new InvalidOperationException("a thumbnails job needs a library");
        var library = await grains.GetGrain<ILibraryGrain>(libraryId).GetDefinitionAsync()
            ?? throw new InvalidOperationException($"library '{libraryId}' does not exist");
        var cancellation = context.Aborted;
        var folder = LibraryPaths.Resolve(library.Root, library.Settings.ThumbnailFolder)
            ?? throw new InvalidOperationException($"thumbnail folder '{library.Settings.ThumbnailFolder}' leads out of the library");
        var (files, _) = await Task.Run(() => LibraryFiles.Walk(library.Root, [library.Settings.ThumbnailFolder], cancellation), cancellation);
        var images = files.Where(f => ImageExtensions.Contains(Path.GetExtension(f.RelativePath))).ToList();
        context.Progress.SetTotal(images.Count);
        var counters = new Dictionary<string, long>(context.Checkpoint.Counters, StringComparer.Ordinal);
        var touched = new HashSet<string>(StringComparer.Ordinal);
        var run = Guid.NewGuid().ToString("N")[..8];
        var tag = SafeFiles.JobTag(context.JobId);
        SafeFiles.RemoveJobTemps(folder, tag);
        context.BeforeCheckpoint(_ =>
        {
            foreach (var written in touched)
            {
                SafeFiles.SyncFolder(written);
            }

            touched.Clear();
            return Task.CompletedTask;
        });

        var start = context.Checkpoint.Cursor is { } cursor ? AnalyzeJobHandler.StartAfter(images, cursor) : 0;
        for (var i = start; i < images.Count; i++)
        {
            if (context.StopRequested.IsCancellationRequested)
            {
                return;
            }

            var image = images[i];
            var thumbnail = Path.Combine(folder, image.RelativePath + ".jpg");
            var within = LibraryPaths.IsWithin(LibraryPaths.Canonical(Path.GetDirectoryName(thumbnail)!), folder) && new FileInfo(thumbnail).LinkTarget is null;
            if (!within)
            {
                context.Log(JobMessageLevel.Warning, $"{image.RelativePath}: a symbolic link in the thumbnail folder leads elsewhere; no thumbnail written");
                Count(counters, "refused");
            }
            else if (!force && File.Exists(thumbnail))
            {
                Count(counters, "existing");
            }
            else if (Encode(image.FullPath, library.Settings.ThumbnailSize) is { } jpeg)
            {
                try
                {
                    var temp = SafeFiles.TempPath(thumbnail, tag, i, run);
                    Directory.CreateDirectory(Path.GetDirectoryName(thumbnail)!);
                    await using (var output = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1))
                    {
                        await output.WriteAsync(jpeg, cancellation);
                        output.Flush(flushToDisk: true);
                    }

                    using (await context.BeginEffectAsync())
                    {
                        File.Move(temp, thumbnail, overwrite: true);
                    }

                    touched.Add(Path.GetDirectoryName(thumbnail)!);
                    Count(counters, "written");
                }
                catch (IOException ex)
                {
                    // A name too long for the file system, a full disk: this image gets none, the others go on.
                    context.Log(JobMessageLevel.Warning, $"{image.RelativePath}: thumbnail not written ({ex.Message})");
                    Count(counters, "unwritten");
                }
            }
            else
            {
                context.Log(JobMessageLevel.Warning, $"{image.RelativePath}: not a readable image; no thumbnail");
                Count(counters, "unreadable");
            }

            await context.ItemDoneAsync(image.RelativePath, counters);
        }
    }

    /// <summary>The image scaled to fit <paramref name="size"/> (never enlarged), as JPEG; null when it cannot be decoded.</summary>
    internal static byte[]? Encode(string path, int size)
    {
        using var bitmap = SKBitmap.Decode(path);
        if (bitmap is null || bitmap.Width == 0 || bitmap.Height == 0)
        {
            return null;
        }

        var scale = Math.Min(1.0, (double)size / Math.Max(bitmap.Width, bitmap.Height));
        var info = new SKImageInfo(Math.Max(1, (int)Math.Round(bitmap.Width * scale)), Math.Max(1, (int)Math.Round(bitmap.Height * scale)));
        using var resized = bitmap.Resize(info, new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear));
        using var encoded = (resized ?? bitmap).Encode(SKEncodedImageFormat.Jpeg, Quality);
        return encoded?.ToArray();
    }

    private static void Count(Dictionary<string, long> counters, string name) => counters[name] = counters.GetValueOrDefault(name) + 1;
}
