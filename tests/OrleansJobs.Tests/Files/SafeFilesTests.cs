using OrleansJobs.Jobs.Files;
using OrleansJobs.Libraries;

namespace OrleansJobs.Tests.Files;

/// <summary>The disk primitives and path rules of the file jobs, on a real temporary folder.</summary>
public sealed class SafeFilesTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("orleansjobs-safefiles-").FullName;

    [Fact]
    public void MoveNoReplace_NeverReplacesAFile_AndRenamesOtherwise()
    {
        var from = Write("a.txt", "new");
        var taken = Write("b.txt", "someone else's");

        Assert.False(SafeFiles.MoveNoReplace(from, taken));
        Assert.Equal("someone else's", File.ReadAllText(taken));
        Assert.True(File.Exists(from));

        Assert.True(SafeFiles.MoveNoReplace(from, Path.Combine(_folder, "sub/c.txt")));
        Assert.False(File.Exists(from));
        Assert.Equal("new", File.ReadAllText(Path.Combine(_folder, "sub/c.txt")));
    }

    [Fact]
    public void ANamedPipe_IsNotARegularFile_AndAWalkDoesNotReadIt()
    {
        Write("plain.txt", "x");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", Path.Combine(_folder, "pipe")))
        {
            mkfifo.WaitForExit();
        }

        Assert.True(SafeFiles.IsRegularFile(Path.Combine(_folder, "plain.txt")));
        Assert.False(SafeFiles.IsRegularFile(Path.Combine(_folder, "pipe")));
        var (files, notes) = LibraryFiles.Walk(_folder, [], CancellationToken.None);
        Assert.Equal(["plain.txt"], files.Select(f => f.RelativePath));
        Assert.Contains(notes, n => n.RelativePath == "pipe");
    }

    [Theory]
    [InlineData("2024/01/..", "2024/01/_")] // {stem} of "...jpg" is ".."
    [InlineData("2024/01/...jpg", "2024/01/...jpg")]
    [InlineData("2024/../x.jpg", "2024/_/x.jpg")]
    [InlineData("a//b", "a/_/b")]
    [InlineData("2024/01/a.jpg", "2024/01/a.jpg")]
    public void AFilledLayout_IsAlwaysAPlainRelativePath(string filled, string safe)
    {
        Assert.Equal(safe, OrganizePlan.Safe(filled));
        Assert.Null(LibraryPaths.RelativeError(OrganizePlan.Safe(filled)));
    }

    [Fact]
    public void TemporaryNames_StayWithinTheFileSystemsLimit_ForLongNonAsciiNames()
    {
        var name = new string('写', 200) + ".jpg"; // 604 UTF-8 bytes
        var temp = Path.GetFileName(SafeFiles.TempPath(Path.Combine(_folder, name), SafeFiles.JobTag("job"), 12345, "abcdef12"));
        Assert.True(System.Text.Encoding.UTF8.GetByteCount(temp) <= 255, $"{System.Text.Encoding.UTF8.GetByteCount(temp)} bytes");
    }

    private string Write(string relative, string text)
    {
        var path = Path.Combine(_folder, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);
}
