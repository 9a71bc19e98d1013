using System.IO.Enumeration;
using System.Security.Cryptography;

namespace OrleansJobs.Jobs.Files;

/// <summary>A regular file found under a library's root.</summary>
public sealed record LibraryFile(string RelativePath, string FullPath, long Size, DateTimeOffset ModifiedAt);

/// <summary>What a walk found besides regular files: links it did not follow, entries it could not read.</summary>
public sealed record WalkNote(string RelativePath, string Text);

/// <summary>
/// Reading a library's tree: a walk that never follows a symbolic link (a link is reported, not
/// entered or read), skips the folders a job excludes and the product's own temporary files, and
/// lists files in ordinal path order, so a cursor (the last path done) means the same on every run.
/// </summary>
public static class LibraryFiles
{
    /// <summary>Temporary files of file jobs end with this; walks skip them and resumed jobs remove their own.</summary>
    public const string TemporarySuffix = ".orleansjobs-tmp";

    private const int HashBufferSize = 1 << 20;

    public static (List<LibraryFile> Files, List<WalkNote> Notes) Walk(string root, IReadOnlyCollection<string> excludedFolders, CancellationToken cancellationToken)
    {
        var excluded = excludedFolders.Select(f => f.TrimEnd('/')).ToHashSet(StringComparer.Ordinal);
        var notes = new List<WalkNote>();
        var files = new List<LibraryFile>();
        var options = new EnumerationOptions { RecurseSubdirectories = false, IgnoreInaccessible = false, AttributesToSkip = 0, ReturnSpecialDirectories = false };
        var pending = new Stack<string>();
        pending.Push("");
        while (pending.TryPop(out var folder))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var full = folder.Length == 0 ? root : Path.Combine(root, folder);
            List<(string Name, bool IsDirectory, bool IsLink, long Size, DateTimeOffset Modified)> entries;
            try
            {
                entries = [.. new FileSystemEnumerable<(string, bool, bool, long, DateTimeOffset)>(full,
                    (ref FileSystemEntry e) => (e.FileName.ToString(), e.IsDirectory, (e.Attributes & FileAttributes.ReparsePoint) != 0, e.Length, e.LastWriteTimeUtc),
                    options)];
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                notes.Add(new WalkNote(folder, $"folder cannot be read: {ex.Message}"));
                continue;
            }

            foreach (var entry in entries)
            {
                var relative = folder.Length == 0 ? entry.Name : folder + "/" + entry.Name;
                if (entry.IsLink)
                {
                    notes.Add(new WalkNote(relative, DescribeLink(root, Path.Combine(root, relative))));
                }
                else if (entry.IsDirectory)
                {
                    if (!excluded.Contains(relative))
                    {
                        pending.Push(relative);
                    }
                }
                else if (entry.Name.EndsWith(TemporarySuffix, StringComparison.Ordinal))
                {
                    continue;
                }
                else if (!SafeFiles.IsRegularFile(Path.Combine(root, relative)))
                {
                    // A pipe, socket or device looks like a file, but reading it could block forever.
                    notes.Add(new WalkNote(relative, "not a regular file (a pipe, socket or device): not read"));
                }
                else
                {
                    files.Add(new LibraryFile(relative, Path.Combine(root, relative), entry.Size, Truncate(entry.Modified)));
                }
            }
        }

        files.Sort((a, b) => string.CompareOrdinal(a.RelativePath, b.RelativePath));
        return (files, notes);
    }

    /// <summary>SHA-256 of the file's content, read once, sequentially.</summary>
    public static Task<byte[]> HashAsync(string path, CancellationToken cancellationToken) => Task.FromResult(Hash(path, cancellationToken));

    /// <summary>SHA-256 of the file's content, read once, sequentially, on the calling thread (small files are read in one call).</summary>
    public static byte[] Hash(string path, CancellationToken cancellationToken)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent((int)Math.Clamp(RandomAccess.GetLength(handle), 4096, HashBufferSize));
        try
        {
            long offset = 0;
            int read;
            while ((read = RandomAccess.Read(handle, buffer, offset)) > 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                hash.AppendData(buffer, 0, read);
                offset += read;
            }

            return hash.GetHashAndReset();
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Modification times as the catalog keeps them (PostgreSQL stores microseconds).</summary>
    public static DateTimeOffset Truncate(DateTimeOffset time) => new(time.UtcTicks - time.UtcTicks % 10, TimeSpan.Zero);

    private static string DescribeLink(string root, string path)
    {
        try
        {
            var target = new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true);
            if (target is null || !target.Exists && !Directory.Exists(target.FullName))
            {
                return "dangling symbolic link: not read";
            }

            return Libraries.LibraryPaths.IsWithin(Libraries.LibraryPaths.Canonical(target.FullName), root)
                ? "symbolic link within the library: not followed (its target is read where it lies)"
                : "symbolic link pointing outside the library: not followed";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return $"symbolic link that cannot be resolved: not read ({ex.Message})";
        }
    }
}
