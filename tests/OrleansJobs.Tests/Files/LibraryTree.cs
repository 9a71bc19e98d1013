using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using SkiaSharp;

namespace OrleansJobs.Tests.Files;

/// <summary>
/// Real files for the file job tests: a folder tree with nested folders, duplicates, photos with a
/// capture date in their Exif metadata, a dangling link and a link pointing outside; and a snapshot
/// of a tree (every path with its size, modification time and SHA-256) to compare before and after.
/// </summary>
public sealed class LibraryTree : IDisposable
{
    public LibraryTree(string parent, string name)
    {
        Root = Path.Combine(parent, name);
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }

    /// <summary>Writes <paramref name="content"/> at <paramref name="relative"/> with a fixed modification time.</summary>
    public string Write(string relative, byte[] content, DateTime? modified = null)
    {
        var path = Path.Combine(Root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, content);
        File.SetLastWriteTimeUtc(path, modified ?? new DateTime(2021, 3, 4, 5, 6, 7, DateTimeKind.Utc));
        return path;
    }

    /// <summary>
    /// A mixed library: <paramref name="files"/> small files in nested folders (every tenth a duplicate of
    /// another), <paramref name="photos"/> JPEG photos taken on known dates, a dangling link, a named pipe
    /// and a link to <paramref name="outside"/>.
    /// </summary>
    public static LibraryTree Generate(string parent, string name, int files, int photos, string? outside = null, int seed = 7)
    {
        var tree = new LibraryTree(parent, name);
        var random = new Random(seed);
        for (var i = 0; i < files; i++)
        {
            var folder = $"inbox/{i % 7}/{i % 3}";
            var content = i % 10 == 9 ? Content(i - 1) : Content(i);
            tree.Write($"{folder}/file-{i:D5}.txt", content, new DateTime(2020 + i % 4, 1 + i % 12, 1 + i % 28, 12, 0, 0, DateTimeKind.Utc));
        }

        for (var i = 0; i < photos; i++)
        {
            var taken = new DateTime(2019, 1 + i % 12, 1 + i % 27, 10, 30, 0, DateTimeKind.Unspecified);
            tree.Write($"camera/IMG_{i:D4}.jpg", Photo(taken, random.Next(256)), new DateTime(2024, 6, 1, 0, 0, 0, DateTimeKind.Utc));
        }

        File.CreateSymbolicLink(Path.Combine(tree.Root, "inbox/dangling-link.txt"), Path.Combine(tree.Root, "no-such-file"));
        // A named pipe looks like a file but would block a reader forever.
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", Path.Combine(tree.Root, "inbox/pipe.txt")))
        {
            mkfifo.WaitForExit();
        }

        if (outside is not null)
        {
            File.CreateSymbolicLink(Path.Combine(tree.Root, "inbox/outside-link"), outside);
        }

        return tree;

        byte[] Content(int n) => Encoding.UTF8.GetBytes($"file {n}\n" + new string((char)('a' + n % 26), 100 + n % 900));
    }

    /// <summary>A small JPEG whose Exif metadata says it was taken at <paramref name="taken"/>.</summary>
    public static byte[] Photo(DateTime taken, int shade)
    {
        using var bitmap = new SKBitmap(64, 48);
        bitmap.Erase(new SKColor((byte)shade, 120, (byte)(255 - shade)));
        using var data = bitmap.Encode(SKEncodedImageFormat.Jpeg, 85);
        var jpeg = data.ToArray();
        // SOI, then an APP1 Exif segment, then the rest of the JPEG (after its own SOI).
        var exif = ExifWithDateTimeOriginal(taken);
        var segment = new byte[4 + exif.Length];
        segment[0] = 0xFF;
        segment[1] = 0xE1;
        BinaryPrimitives.WriteUInt16BigEndian(segment.AsSpan(2), (ushort)(exif.Length + 2));
        exif.CopyTo(segment, 4);
        return [0xFF, 0xD8, .. segment, .. jpeg.AsSpan(2)];
    }

    private static byte[] ExifWithDateTimeOriginal(DateTime taken)
    {
        // "Exif\0\0", a big-endian TIFF header, IFD0 with one entry (the Exif IFD's offset), the Exif IFD with DateTimeOriginal.
        var date = Encoding.ASCII.GetBytes(taken.ToString("yyyy:MM:dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture) + "\0");
        var tiff = new byte[8 + 2 + 12 + 4 + 2 + 12 + 4 + date.Length];
        var span = tiff.AsSpan();
        "MM"u8.CopyTo(span);
        BinaryPrimitives.WriteUInt16BigEndian(span[2..], 42);
        BinaryPrimitives.WriteUInt32BigEndian(span[4..], 8);
        // IFD0 at 8: one entry, ExifOffset (0x8769, LONG) -> 26.
        BinaryPrimitives.WriteUInt16BigEndian(span[8..], 1);
        Entry(span[10..], 0x8769, 4, 1, 26);
        BinaryPrimitives.WriteUInt32BigEndian(span[22..], 0);
        // Exif IFD at 26: one entry, DateTimeOriginal (0x9003, ASCII, 20) -> 44.
        BinaryPrimitives.WriteUInt16BigEndian(span[26..], 1);
        Entry(span[28..], 0x9003, 2, (uint)date.Length, 44);
        BinaryPrimitives.WriteUInt32BigEndian(span[40..], 0);
        date.CopyTo(span[44..]);
        return [.. "Exif\0\0"u8, .. tiff];

        static void Entry(Span<byte> at, ushort tag, ushort type, uint count, uint value)
        {
            BinaryPrimitives.WriteUInt16BigEndian(at, tag);
            BinaryPrimitives.WriteUInt16BigEndian(at[2..], type);
            BinaryPrimitives.WriteUInt32BigEndian(at[4..], count);
            BinaryPrimitives.WriteUInt32BigEndian(at[8..], value);
        }
    }

    private const string SpecialFile = "special file";

    /// <summary>Whether a snapshot entry is a regular file (not a folder, a link or a special file).</summary>
    public static bool IsFile(KeyValuePair<string, string> entry) =>
        entry.Value != "folder" && entry.Value != SpecialFile && !entry.Value.StartsWith("link", StringComparison.Ordinal);

    /// <summary>Every file and link under <paramref name="root"/> (not following links): path → size, modification time, SHA-256 (a link: its target).</summary>
    public static SortedDictionary<string, string> Snapshot(string root)
    {
        var entries = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 };
        foreach (var path in Directory.EnumerateFileSystemEntries(root, "*", options))
        {
            var info = new FileInfo(path);
            var relative = Path.GetRelativePath(root, path);
            if (info.LinkTarget is { } target)
            {
                entries[relative] = "link -> " + target;
            }
            else if (relative.EndsWith("pipe.txt", StringComparison.Ordinal))
            {
                entries[relative] = SpecialFile; // never read: it would block
            }
            else if (Directory.Exists(path))
            {
                entries[relative + "/"] = "folder";
            }
            else
            {
                entries[relative] = $"{info.Length} {info.LastWriteTimeUtc:O} {Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)))}";
            }
        }

        return entries;
    }

    public void Dispose()
    {
        if (Directory.Exists(Root))
        {
            Directory.Delete(Root, recursive: true);
        }
    }
}
