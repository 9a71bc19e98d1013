using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace OrleansJobs.Jobs.Files;

/// <summary>
/// Disk primitives of the file jobs: a copy goes to a temporary file beside its target, is flushed
/// to disk and read back against the source's checksum before a rename puts it in place; a rename
/// never replaces an existing file; names are flushed after they changed.
/// </summary>
public static partial class SafeFiles
{
    private const int BufferSize = 1 << 20;
    private const int MaxNameInTemp = 100;

    /// <summary>A short tag of the job in its temporary files' names, so a resumed run finds its own strays.</summary>
    public static string JobTag(string jobId) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(jobId)))[..12];

    /// <summary>The temporary file of operation <paramref name="seq"/> written by the run tagged <paramref name="run"/>, beside <paramref name="target"/>.</summary>
    public static string TempPath(string target, string jobTag, long seq, string run) =>
        Path.Combine(Path.GetDirectoryName(target)!, $"{TempPrefix(target, jobTag, seq)}{run}{LibraryFiles.TemporarySuffix}");

    /// <summary>What every temporary file of the operation starts with, whatever the run.</summary>
    public static string TempPrefix(string target, string jobTag, long seq) => $".{Shorten(Path.GetFileName(target), MaxNameInTemp)}.{jobTag}-{seq}-";

    /// <summary>At most <paramref name="maxBytes"/> UTF-8 bytes of <paramref name="name"/>, cut between characters (names are limited in bytes).</summary>
    public static string Shorten(string name, int maxBytes)
    {
        if (Encoding.UTF8.GetByteCount(name) <= maxBytes)
        {
            return name;
        }

        var length = 0;
        var bytes = 0;
        foreach (var rune in name.EnumerateRunes())
        {
            if (bytes + rune.Utf8SequenceLength > maxBytes)
            {
                break;
            }

            bytes += rune.Utf8SequenceLength;
            length += rune.Utf16SequenceLength;
        }

        return name[..length];
    }

    /// <summary>Removes the temporary files any run of operation <paramref name="seq"/> left beside <paramref name="target"/>.</summary>
    public static int RemoveTemps(string target, string jobTag, long seq)
    {
        var folder = Path.GetDirectoryName(target)!;
        if (!Directory.Exists(folder))
        {
            return 0;
        }

        var removed = 0;
        foreach (var temp in Directory.EnumerateFiles(folder, TempPrefix(target, jobTag, seq) + "*" + LibraryFiles.TemporarySuffix))
        {
            File.Delete(temp);
            removed++;
        }

        return removed;
    }

    /// <summary>Removes every temporary file of the job under <paramref name="folder"/>; returns how many.</summary>
    public static int RemoveJobTemps(string folder, string jobTag)
    {
        if (!Directory.Exists(folder))
        {
            return 0;
        }

        var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint, IgnoreInaccessible = true };
        var removed = 0;
        foreach (var temp in Directory.EnumerateFiles(folder, $".*.{jobTag}-*{LibraryFiles.TemporarySuffix}", options))
        {
            File.Delete(temp);
            removed++;
        }

        return removed;
    }

    /// <summary>
    /// Copies <paramref name="source"/> into a new file <paramref name="temp"/> (never an existing one; its folder must exist),
    /// keeping its modification time, and returns the SHA-256 of what was copied. The data is not yet
    /// flushed: the caller flushes a whole batch at once (<see cref="SyncFileSystem"/>) before any rename.
    /// </summary>
    public static byte[] CopyToTemp(string source, string temp, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var input = File.OpenHandle(source, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
        using var output = File.OpenHandle(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent((int)Math.Clamp(RandomAccess.GetLength(input), 4096, BufferSize));
        try
        {
            long offset = 0;
            int read;
            while ((read = RandomAccess.Read(input, buffer, offset)) > 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                hash.AppendData(buffer, 0, read);
                RandomAccess.Write(output, buffer.AsSpan(0, read), offset);
                offset += read;
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }

        File.SetLastWriteTimeUtc(output, File.GetLastWriteTimeUtc(input)); // through the open files: no path lookups
        return hash.GetHashAndReset();
    }

    /// <summary>
    /// Flushes everything written to the file system that holds <paramref name="folder"/> (data and
    /// names): one call for a whole batch of files, much cheaper than a flush per file.
    /// </summary>
    public static void SyncFileSystem(string folder) => OnFolder(folder, SyncFs, "flushing the file system of");

    /// <summary>
    /// Renames <paramref name="from"/> to <paramref name="to"/> in one step unless <paramref name="to"/> exists
    /// (false then). Never replaces a file, never copies: a rename across file systems fails (File.Move
    /// would fall back to an unflushed copy).
    /// </summary>
    public static bool MoveNoReplace(string from, string to)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(to)!);
        if (RenameAt2(CurrentFolder, from, CurrentFolder, to, RenameNoReplace) == 0)
        {
            return true;
        }

        var error = Marshal.GetLastPInvokeError();
        if (error == ExistsError)
        {
            return false;
        }

        if (error is not (InvalidError or NotSupportedError))
        {
            throw new IOException($"renaming '{from}' to '{to}' failed (errno {error})");
        }

        // A file system without RENAME_NOREPLACE: a hard link cannot replace either; then the old name goes.
        if (Link(from, to) != 0)
        {
            error = Marshal.GetLastPInvokeError();
            if (error == ExistsError)
            {
                return false;
            }

            throw new IOException($"linking '{from}' to '{to}' failed (errno {error})");
        }

        File.Delete(from);
        return true;
    }

    /// <summary>Flushes a folder's entries (names created, renamed or removed in it) to disk.</summary>
    public static void SyncFolder(string folder) => OnFolder(folder, Fsync, "flushing");

    /// <summary>Calls <paramref name="call"/> on an open descriptor of <paramref name="folder"/>; a failure is an <see cref="IOException"/>.</summary>
    private static void OnFolder(string folder, Func<int, int> call, string what)
    {
        var fd = Open(folder, ReadOnly | DirectoryOnly);
        if (fd < 0)
        {
            throw new IOException($"{what} folder '{folder}' failed: it cannot be opened (errno {Marshal.GetLastPInvokeError()})");
        }

        try
        {
            if (call(fd) != 0)
            {
                throw new IOException($"{what} folder '{folder}' failed (errno {Marshal.GetLastPInvokeError()})");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    /// <summary>
    /// A free name for <paramref name="target"/> when it is taken by a different file: "name (1).ext",
    /// "name (2).ext", ... the first that <paramref name="taken"/> does not claim and no file has.
    /// </summary>
    public static string FreeName(string target, Func<string, bool> taken)
    {
        var folder = Path.GetDirectoryName(target)!;
        var stem = Path.GetFileNameWithoutExtension(target);
        var extension = Path.GetExtension(target);
        for (var n = 1; ; n++)
        {
            var candidate = Path.Combine(folder, $"{stem} ({n}){extension}");
            if (!taken(candidate) && !File.Exists(candidate) && !Directory.Exists(candidate))
            {
                return candidate;
            }
        }
    }

    /// <summary>
    /// Whether <paramref name="path"/> is a regular file (not a pipe, socket or device, which look like
    /// files to .NET and would block a reader forever; a link is not followed). False when it is gone.
    /// </summary>
    public static bool IsRegularFile(string path)
    {
        Span<byte> status = stackalloc byte[StatxSize];
        if (Statx(CurrentFolder, path, NoFollow, StatxType, status) != 0)
        {
            return false;
        }

        var mode = BitConverter.ToUInt16(status[StatxModeOffset..]);
        return (mode & FileTypeMask) == RegularFileType;
    }

    // statx(2): a layout fixed by the kernel on every architecture (struct statx is 256 bytes, stx_mode a u16 at 28).
    private const int CurrentFolder = -100; // AT_FDCWD
    private const int NoFollow = 0x100; // AT_SYMLINK_NOFOLLOW
    private const uint StatxType = 0x1; // STATX_TYPE
    private const int StatxSize = 256;
    private const int StatxModeOffset = 28;
    private const int FileTypeMask = 0xF000; // S_IFMT
    private const int RegularFileType = 0x8000; // S_IFREG

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int folder, string path, int flags, uint mask, Span<byte> status);

    private const uint RenameNoReplace = 1; // RENAME_NOREPLACE
    private const int ExistsError = 17; // EEXIST
    private const int InvalidError = 22; // EINVAL: the file system does not support the flag
    private const int NotSupportedError = 38; // ENOSYS

    [LibraryImport("libc", EntryPoint = "renameat2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int RenameAt2(int oldFolder, string oldPath, int newFolder, string newPath, uint flags);

    [LibraryImport("libc", EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Link(string oldPath, string newPath);

    private const int ReadOnly = 0;
    private const int DirectoryOnly = 0x10000; // O_DIRECTORY on Linux

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "syncfs", SetLastError = true)]
    private static partial int SyncFs(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
