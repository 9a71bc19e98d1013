using System.Text.Json;
using OrleansJobs.Jobs.Handlers;
using OrleansJobs.Libraries;

namespace OrleansJobs.Jobs.Files;

/// <summary>
/// The <c>analyze</c> job type: walks a library's root and records every file's path, size,
/// modification time and SHA-256 in the catalog. Files unchanged since the last analysis (same size
/// and modification time) are not read again, unless <c>rehash</c>; files gone since are marked
/// removed; unreadable files are warnings. It only reads the library. The cursor is the last path
/// done (paths are walked in ordinal order), and the catalog rows of the items a checkpoint claims
/// are written before it.
/// </summary>
public sealed class AnalyzeJobHandler(IGrainFactory grains, CatalogStore catalog) : IJobHandler
{
    public const string TypeName = "analyze";

    /// <summary>Catalog rows are written at every checkpoint, and at least this often.</summary>
    private const int MaxBufferedRows = 500;

    private const string WalkStartedCounter = "walkStartedUs";

    /// <summary>Files whose checksums are computed together, on every core.</summary>
    private const int HashChunk = 64;

    public IReadOnlyList<JobParameterError> Validate(JsonElement parameters)
    {
        var errors = FileJobParameters.Members(parameters, TypeName, "rehash");
        if (errors.Count == 0)
        {
            FileJobParameters.Boolean(parameters, "rehash", errors);
        }

        return errors;
    }

    public async Task RunAsync(IJobContext context)
    {
        var errors = new List<JobParameterError>();
        var rehash = FileJobParameters.Boolean(context.Parameters, "rehash", errors) ?? false;
        var libraryId = context.LibraryId ?? throw new InvalidOperationException("an analyze job needs a library");
        var library = await grains.GetGrain<ILibraryGrain>(libraryId).GetDefinitionAsync()
            ?? throw new InvalidOperationException($"library '{libraryId}' does not exist");
        var cancellation = context.Aborted;
        if (LibraryPaths.Canonical(library.Root) != library.Root)
        {
            throw new InvalidOperationException($"the root of library '{libraryId}' no longer resolves to itself (a folder along it was replaced by a link): not read");
        }

        var counters = new Dictionary<string, long>(context.Checkpoint.Counters, StringComparer.Ordinal);
        if (!counters.TryGetValue(WalkStartedCounter, out var walkStartedUs))
        {
            // The first run of this walk: later runs resume it, and what none of them saw is gone.
            walkStartedUs = (await catalog.NowAsync(cancellation)).ToUnixTimeMilliseconds() * 1000;
            counters[WalkStartedCounter] = walkStartedUs;
        }

        var (files, notes) = await Task.Run(() => LibraryFiles.Walk(library.Root, [library.Settings.ThumbnailFolder], cancellation), cancellation);
        var known = await catalog.LoadAsync(libraryId, cancellation);
        context.Progress.SetTotal(files.Count);
        if (context.Checkpoint.Cursor is null)
        {
            foreach (var note in notes)
            {
                context.Log(JobMessageLevel.Warning, $"{note.RelativePath}: {note.Text}");
            }

            counters["notes"] = notes.Count;
        }

        bool Unchanged(LibraryFile file) =>
            !rehash && known.TryGetValue(file.RelativePath, out var facts) && facts.Hashed && !facts.Removed
            && facts.Size == file.Size && facts.ModifiedAt == file.ModifiedAt;

        var buffer = new List<CatalogRow>();
        var spent = new FileJobTimes(counters);
        context.BeforeCheckpoint(async token =>
        {
            using (spent.Measure(FileJobTimes.Catalog))
            {
                await catalog.WriteAsync(libraryId, context.JobId, buffer, token);
            }

            buffer.Clear();
        });

        var start = context.Checkpoint.Cursor is { } cursor ? StartAfter(files, cursor) : 0;
        var hashes = new (byte[]? Sha, string? Error)[HashChunk];
        for (var i = start; i < files.Count; i++)
        {
            if ((i - start) % HashChunk == 0)
            {
                if (context.StopRequested.IsCancellationRequested)
                {
                    return; // the context writes the buffer before the run's end is stored
                }

                // The next chunk's checksums, on every core; the items are then done in order.
                var first = i;
                var count = Math.Min(HashChunk, files.Count - first);
                Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancellation }, k =>
                    hashes[k] = Unchanged(files[first + k]) ? (null, null) : HashOrError(files[first + k].FullPath, cancellation));
            }

            var file = files[i];
            var (sha, error) = hashes[(i - start) % HashChunk];
            if (Unchanged(file))
            {
                buffer.Add(new CatalogRow(file.RelativePath, file.Size, file.ModifiedAt, null));
                Count(counters, "unchanged");
            }
            else if (sha is not null)
            {
                buffer.Add(new CatalogRow(file.RelativePath, file.Size, file.ModifiedAt, sha));
                Count(counters, "hashed");
                Count(counters, "bytesHashed", file.Size);
            }
            else
            {
                // Gone or unreadable since the walk: a warning, not a failure.
                context.Log(JobMessageLevel.Warning, $"{file.RelativePath}: cannot be read ({error})");
                Count(counters, "unreadable");
            }

            if (buffer.Count >= MaxBufferedRows)
            {
                using (spent.Measure(FileJobTimes.Catalog))
                {
                    await catalog.WriteAsync(libraryId, context.JobId, buffer, cancellation);
                }

                buffer.Clear();
            }

            if (i < files.Count - 1)
            {
                using (spent.Measure(FileJobTimes.Checkpoints))
                {
                    await context.ItemDoneAsync(file.RelativePath, counters);
                }
            }
        }

        if (start >= files.Count && files.Count > 0)
        {
            return; // resumed after its last item: the walk was finished
        }

        // The last item is done once the walk's end is recorded: rows written, vanished files marked.
        await catalog.WriteAsync(libraryId, context.JobId, buffer, cancellation);
        buffer.Clear();
        var removed = await catalog.MarkRemovedAsync(libraryId, DateTimeOffset.UnixEpoch.AddTicks(walkStartedUs * 10), cancellation);
        counters["removed"] = removed;
        counters["files"] = files.Count;
        context.Log(JobMessageLevel.Info,
            $"analyzed {files.Count} files: {Get(counters, "hashed")} read, {Get(counters, "unchanged")} unchanged, " +
            $"{Get(counters, "unreadable")} unreadable, {removed} removed since the last analysis");
        if (files.Count > 0)
        {
            await context.ItemDoneAsync(files[^1].RelativePath, counters);
        }
    }

    private static (byte[]? Sha, string? Error) HashOrError(string path, CancellationToken cancellationToken)
    {
        try
        {
            return (LibraryFiles.Hash(path, cancellationToken), null);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return (null, ex.Message);
        }
    }

    /// <summary>The index of the first file after <paramref name="cursor"/> in ordinal order.</summary>
    internal static int StartAfter(List<LibraryFile> files, string cursor)
    {
        int low = 0, high = files.Count;
        while (low < high)
        {
            var middle = (low + high) / 2;
            if (string.CompareOrdinal(files[middle].RelativePath, cursor) <= 0)
            {
                low = middle + 1;
            }
            else
            {
                high = middle;
            }
        }

        return low;
    }

    private static void Count(Dictionary<string, long> counters, string name, long by = 1) => counters[name] = Get(counters, name) + by;

    private static long Get(Dictionary<string, long> counters, string name) => counters.GetValueOrDefault(name);
}
