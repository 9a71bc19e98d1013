using System.Text.Json;
using System.Text.Json.Serialization;
using OrleansJobs.Libraries;

namespace OrleansJobs.ApiHost.Archive;

/// <summary>
/// The archive format (<c>docs/archive.md</c>): gzip'd JSON Lines; a header, then one line per library, device
/// and job, then an end line with the counts. These records are the lines; a reader ignores members it does not
/// know, so a later version may add members (never rename one) and stay readable.
/// </summary>
public static class ArchiveFormat
{
    public const string Name = "orleansjobs-archive";
    public const int Version = 1;
    public const string ContentType = "application/gzip";

    public const string Library = "library";
    public const string Device = "device";
    public const string Job = "job";
    public const string End = "end";

    /// <summary>The order lines come in: every library, then every device, then every job, then the end line.</summary>
    public static int Rank(string kind) => kind switch
    {
        Library => 1,
        Device => 2,
        Job => 3,
        End => 4,
        _ => 0,
    };

    /// <summary>camelCase members, nulls left out, numbers as numbers; unknown members are ignored on reading.</summary>
    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.Strict,
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
    };

    /// <summary>The file name of an export made at <paramref name="at"/>.</summary>
    public static string FileName(DateTimeOffset at) => $"orleansjobs-export-{at.UtcDateTime:yyyyMMdd'T'HHmmss'Z'}.jsonl.gz";
}

/// <summary>Line 1.</summary>
public sealed record ArchiveHeader(string Format, int Version, DateTimeOffset ExportedAt, ArchiveFilter Filter);

/// <summary>Which jobs an export took (libraries and devices are always all there).</summary>
public sealed record ArchiveFilter(IReadOnlyList<string>? Status = null, string? Type = null, DateTimeOffset? CreatedAfter = null, DateTimeOffset? CreatedBefore = null);

/// <summary>A library line.</summary>
public sealed record ArchiveLibrary(
    string Kind, string Id, string Name, string Root, LibrarySettings Settings, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, long Version);

/// <summary>A device line (<see cref="DeviceKind"/>: the device's kind, such as <c>plotter</c>).</summary>
public sealed record ArchiveDevice(
    string Kind, string Id, string DeviceKind, string Name, JsonElement Settings, int HeartbeatTimeoutSeconds,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, long Version);

/// <summary>A job line: its stored state as is, its journal and its file operations.</summary>
public sealed record ArchiveJob(
    string Kind, string Id, JsonElement State, IReadOnlyList<ArchiveJournalEntry> Journal, IReadOnlyList<ArchiveOperation> Operations);

/// <summary>One journal entry of a job (<c>job_journal</c>).</summary>
public sealed record ArchiveJournalEntry(
    long Seq, DateTimeOffset At, string Type, string? From = null, string? To = null, string? Reason = null, string? Actor = null, string? Silo = null,
    JsonElement? Data = null);

/// <summary>One file operation of a job (<c>file_operations</c>); <see cref="Sha256"/> in lower-case hex.</summary>
public sealed record ArchiveOperation(
    long Seq, string LibraryId, string Operation, string Source, string Target, string Status, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt,
    string? Sha256 = null, long? Size = null, string? Error = null, string? Note = null, string? RevertsJob = null, long? RevertsSeq = null);

/// <summary>The last line: how many of each the archive holds, so that an archive cut short is known.</summary>
public sealed record ArchiveEnd(string Kind, long Libraries, long Devices, long Jobs);

/// <summary>An archive refused: the line at fault (1-based) and what is wrong with it.</summary>
public sealed class ArchiveException(long line, string message) : Exception($"line {line}: {message}")
{
    public long Line { get; } = line;
}
