using System.Text.Json;
using OrleansJobs.ApiHost.Hosting;
using OrleansJobs.Devices;
using OrleansJobs.Jobs;
using OrleansJobs.Libraries;

namespace OrleansJobs.ApiHost.Archive;

/// <summary>Reading one archive line: its JSON, its kind, its record, and what the grains take from it. Every refusal names the line.</summary>
public static class ArchiveParsing
{
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64 };

    /// <summary>The line as JSON: an object whose text can be stored.</summary>
    public static JsonDocument Parse(ArchiveLine line)
    {
        if (line.Bytes.Length == 0)
        {
            throw new ArchiveException(line.Number, "is empty");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line.Bytes, DocumentOptions);
        }
        catch (JsonException ex)
        {
            throw new ArchiveException(line.Number, $"is not valid JSON (byte {ex.BytePositionInLine + 1}): the line is corrupt or cut short");
        }

        if (document.RootElement.ValueKind != JsonValueKind.Object || !StorableJson.IsStorable(document.RootElement))
        {
            document.Dispose();
            throw new ArchiveException(line.Number, "must be a JSON object whose text can be stored (no NUL characters, unpaired surrogates or bytes that are not UTF-8)");
        }

        return document;
    }

    /// <summary>The line's <c>kind</c>.</summary>
    public static string Kind(JsonDocument document, long line) =>
        document.RootElement.TryGetProperty("kind", out var kind) && kind.ValueKind == JsonValueKind.String && ArchiveFormat.Rank(kind.GetString()!) > 0
            ? kind.GetString()!
            : throw new ArchiveException(line, $"has no known kind: \"kind\" must be one of {ArchiveFormat.Library}, {ArchiveFormat.Device}, {ArchiveFormat.Job}, {ArchiveFormat.End}");

    /// <summary>The line as its record; a member missing or of the wrong type is named.</summary>
    public static T Read<T>(JsonElement element, long line)
    {
        try
        {
            return element.Deserialize<T>(ArchiveFormat.Json) ?? throw new ArchiveException(line, "must be a JSON object");
        }
        catch (JsonException ex)
        {
            const string Missing = "missing required properties including: ";
            var at = ex.Message.IndexOf(Missing, StringComparison.Ordinal);
            throw new ArchiveException(line, at >= 0
                ? $"lacks {ex.Message[(at + Missing.Length)..].TrimEnd('.')}"
                : $"{(ex.Path is null or "$" ? "a member" : ex.Path.TrimStart('$', '.'))} has the wrong type or format");
        }
    }

    public static ArchivedLibrary ToLibrary(ArchiveLibrary library) =>
        new(library.Name, library.Root, library.Settings, library.CreatedAt, library.UpdatedAt, library.Version);

    public static ArchivedDevice ToDevice(ArchiveDevice device) =>
        new(new DeviceDefinition(device.DeviceKind, device.Name, device.Settings.GetRawText(), device.HeartbeatTimeoutSeconds),
            device.CreatedAt, device.UpdatedAt, device.Version);

    public static ImportedJob ToJob(ArchiveJob job, DateTimeOffset exportedAt, string actor) => new(
        job.State.GetRawText(),
        [.. job.Journal.Select(e => new JobJournalEntry(job.Id, e.Seq, e.At, e.Type, Status(e.From), Status(e.To), e.Reason, e.Actor, e.Silo, e.Data?.GetRawText()))],
        [.. job.Operations.Select(o => new ArchivedFileOperation(
            o.Seq, o.LibraryId, o.Operation, o.Source, o.Target, o.Sha256 is null ? null : Convert.FromHexString(o.Sha256), o.Size, o.Status,
            o.Error, o.Note, o.RevertsJob, o.RevertsSeq, o.CreatedAt, o.UpdatedAt))],
        exportedAt,
        actor);

    /// <summary>A status name as the journal stores it; null for none.</summary>
    public static JobStatus? Status(string? name) => name is null ? null : Enum.Parse<JobStatus>(name);

    public static bool IsStatusName(string? name) => name is null || Enum.GetNames<JobStatus>().Contains(name, StringComparer.Ordinal);
}
