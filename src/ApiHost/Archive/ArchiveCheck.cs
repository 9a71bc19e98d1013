using System.Globalization;
using System.Text.Json;
using OrleansJobs.Devices;
using OrleansJobs.Jobs;
using OrleansJobs.Libraries;

namespace OrleansJobs.ApiHost.Archive;

/// <summary>What the check of a whole archive found: its header and how many of each it holds.</summary>
public sealed record ArchiveSummary(ArchiveHeader Header, long Libraries, long Devices, long Jobs);

/// <summary>
/// The first pass of an import: every line is read and checked (JSON, kind, order, required members, ids, values
/// the database would refuse, job states through the silos), the header first and the end line last with counts
/// that match. Nothing is written; any fault throws an <see cref="ArchiveException"/> naming the first line at fault.
/// </summary>
public sealed class ArchiveCheck(IClusterClient cluster)
{
    private const int StatesPerCall = 256;
    private const int CallsInFlight = 4;

    private readonly List<(long Line, string Id, string State)> _batch = [];
    private readonly Queue<Task<(long Line, string Error)?>> _calls = new();

    public async Task<ArchiveSummary> RunAsync(Stream compressed, int maxLineBytes, CancellationToken cancellationToken)
    {
        try
        {
            return await ReadAsync(compressed, maxLineBytes, cancellationToken);
        }
        catch (ArchiveException found)
        {
            // The silos may still be checking states of earlier lines: the first line at fault is the one to name.
            throw await EarliestStateErrorAsync() is { } earlier && earlier.Line < found.Line ? new ArchiveException(earlier.Line, earlier.Error) : found;
        }
    }

    private async Task<ArchiveSummary> ReadAsync(Stream compressed, int maxLineBytes, CancellationToken cancellationToken)
    {
        ArchiveHeader? header = null;
        ArchiveEnd? end = null;
        long lastLine = 0;
        var rank = 0;
        var libraries = new HashSet<string>(StringComparer.Ordinal);
        var devices = new HashSet<string>(StringComparer.Ordinal);
        long jobs = 0;
        await foreach (var line in ArchiveLines.ReadAsync(compressed, maxLineBytes, cancellationToken))
        {
            lastLine = line.Number;
            if (end is not null)
            {
                throw new ArchiveException(line.Number, "nothing may follow the end line");
            }

            using var document = ArchiveParsing.Parse(line);
            if (line.Number == 1)
            {
                header = Header(document, line.Number);
                continue;
            }

            var kind = ArchiveParsing.Kind(document, line.Number);
            if (ArchiveFormat.Rank(kind) < rank)
            {
                throw new ArchiveException(line.Number, $"a {kind} line comes too late: lines come in the order libraries, devices, jobs, end");
            }

            rank = ArchiveFormat.Rank(kind);
            var root = document.RootElement;
            switch (kind)
            {
                case ArchiveFormat.Library:
                    CheckLibrary(ArchiveParsing.Read<ArchiveLibrary>(root, line.Number), libraries, line.Number);
                    break;
                case ArchiveFormat.Device:
                    CheckDevice(ArchiveParsing.Read<ArchiveDevice>(root, line.Number), devices, line.Number);
                    break;
                case ArchiveFormat.Job:
                    var job = ArchiveParsing.Read<ArchiveJob>(root, line.Number);
                    CheckJob(job, line.Number);
                    await AddStateAsync(line.Number, job);
                    jobs++;
                    break;
                default:
                    end = ArchiveParsing.Read<ArchiveEnd>(root, line.Number);
                    Counted("libraries", end.Libraries, libraries.Count, line.Number);
                    Counted("devices", end.Devices, devices.Count, line.Number);
                    Counted("jobs", end.Jobs, jobs, line.Number);
                    break;
            }
        }

        if (header is null)
        {
            throw new ArchiveException(1, "the archive is empty");
        }

        if (end is null)
        {
            throw new ArchiveException(lastLine + 1, $"the archive ends after line {lastLine} without its end line: it is cut short");
        }

        if (await EarliestStateErrorAsync() is { } stateError)
        {
            throw new ArchiveException(stateError.Line, stateError.Error);
        }

        return new ArchiveSummary(header, libraries.Count, devices.Count, jobs);
    }

    private static ArchiveHeader Header(JsonDocument document, long line)
    {
        if (!document.RootElement.TryGetProperty("format", out var format) || format.ValueKind != JsonValueKind.String || format.GetString() != ArchiveFormat.Name)
        {
            throw new ArchiveException(line, $"is not the header of an OrleansJobs archive (\"format\": \"{ArchiveFormat.Name}\")");
        }

        var header = ArchiveParsing.Read<ArchiveHeader>(document.RootElement, line);
        return header.Version == ArchiveFormat.Version ? header : throw new ArchiveException(line, header.Version > ArchiveFormat.Version
            ? $"the archive has format version {header.Version}, newer than this server reads ({ArchiveFormat.Version})"
            : $"format version {header.Version} does not exist");
    }

    private static void CheckLibrary(ArchiveLibrary library, HashSet<string> seen, long line)
    {
        Require(LibraryIds.IsValid(library.Id), line, $"id: must be a library id ({LibraryIds.Rule})");
        Require(seen.Add(library.Id), line, $"library '{library.Id}' is in the archive twice");
        Require(library.Name.Length is > 0 and <= LibraryLimits.MaxNameLength, line, $"name: must be 1 to {LibraryLimits.MaxNameLength} characters");
        Require(library.Root.StartsWith('/') && library.Root.Length <= LibraryLimits.MaxRootLength, line,
            $"root: must be an absolute folder path of at most {LibraryLimits.MaxRootLength} characters");
    }

    private static void CheckDevice(ArchiveDevice device, HashSet<string> seen, long line)
    {
        Require(DeviceIds.IsValid(device.Id), line, $"id: must be a device id ({DeviceIds.Rule})");
        Require(seen.Add(device.Id), line, $"device '{device.Id}' is in the archive twice");
        Require(DeviceIds.IsValid(device.DeviceKind), line, $"deviceKind: must be a device kind ({DeviceIds.Rule})");
        Require(device.Name.Length is > 0 and <= DeviceLimits.MaxNameLength, line, $"name: must be 1 to {DeviceLimits.MaxNameLength} characters");
        Require(device.Settings.ValueKind == JsonValueKind.Object, line, "settings: must be a JSON object");
        Require(device.HeartbeatTimeoutSeconds is >= DeviceLimits.MinHeartbeatTimeoutSeconds and <= DeviceLimits.MaxHeartbeatTimeoutSeconds, line,
            $"heartbeatTimeoutSeconds: must be from {DeviceLimits.MinHeartbeatTimeoutSeconds} to {DeviceLimits.MaxHeartbeatTimeoutSeconds}");
    }

    private static void CheckJob(ArchiveJob job, long line)
    {
        Require(JobIds.IsWellFormed(job.Id), line, $"id: must be a job id (1 to {JobIds.MaxLength} characters, not blank, without control characters)");
        Require(job.State.ValueKind == JsonValueKind.Object, line, "state: must be the job's stored state, a JSON object");
        var seqs = new HashSet<long>();
        for (var i = 0; i < job.Journal.Count; i++)
        {
            var entry = job.Journal[i];
            Require(entry.Seq >= 1 && seqs.Add(entry.Seq), line, $"journal[{i}].seq: must be 1 or more, once per job");
            Require(entry.Type.Length > 0, line, $"journal[{i}].type: must not be empty");
            Require(ArchiveParsing.IsStatusName(entry.From) && ArchiveParsing.IsStatusName(entry.To), line, $"journal[{i}]: from and to must be job statuses");
        }

        seqs.Clear();
        for (var i = 0; i < job.Operations.Count; i++)
        {
            var operation = job.Operations[i];
            Require(operation.Seq >= 0 && seqs.Add(operation.Seq), line, $"operations[{i}].seq: must be 0 or more, once per job");
            Require(LibraryIds.IsValid(operation.LibraryId), line, $"operations[{i}].libraryId: must be a library id");
            Require(ArchivedFileOperation.Operations.Contains(operation.Operation), line,
                $"operations[{i}].operation: must be one of {string.Join(", ", ArchivedFileOperation.Operations)}");
            Require(ArchivedFileOperation.Statuses.Contains(operation.Status), line,
                $"operations[{i}].status: must be one of {string.Join(", ", ArchivedFileOperation.Statuses)}");
            Require(operation.Sha256 is null || (operation.Sha256.Length == 64 && operation.Sha256.All(char.IsAsciiHexDigit)), line,
                $"operations[{i}].sha256: must be 64 hexadecimal digits");
            Require(operation.Size is null or >= 0, line, $"operations[{i}].size: must be 0 or more");
        }
    }

    private static void Counted(string what, long said, long found, long line) =>
        Require(said == found, line, $"the end line counts {said.ToString(CultureInfo.InvariantCulture)} {what}, the archive holds {found.ToString(CultureInfo.InvariantCulture)}");

    private static void Require(bool condition, long line, string message)
    {
        if (!condition)
        {
            throw new ArchiveException(line, message);
        }
    }

    /// <summary>Queues the job's state for the silos' check; a few calls are in flight at once.</summary>
    private async Task AddStateAsync(long line, ArchiveJob job)
    {
        _batch.Add((line, job.Id, job.State.GetRawText()));
        if (_batch.Count < StatesPerCall)
        {
            return;
        }

        SendBatch();
        if (_calls.Count >= CallsInFlight && await _calls.Dequeue() is { } error)
        {
            throw new ArchiveException(error.Line, error.Error);
        }
    }

    private void SendBatch()
    {
        if (_batch.Count == 0)
        {
            return;
        }

        var batch = _batch.ToList();
        _batch.Clear();
        _calls.Enqueue(CheckAsync(batch));

        async Task<(long, string)?> CheckAsync(List<(long Line, string Id, string State)> states)
        {
            var errors = await cluster.GetGrain<IJobStateCheckGrain>(0).CheckAsync([.. states.Select(s => s.Id)], [.. states.Select(s => s.State)]);
            var first = errors.Select((e, i) => (Index: i, Error: e)).FirstOrDefault(e => e.Error is not null);
            return first.Error is null ? null : (states[first.Index].Line, first.Error);
        }
    }

    /// <summary>Sends what waits and awaits every call: the first state at fault, if any.</summary>
    private async Task<(long Line, string Error)?> EarliestStateErrorAsync()
    {
        SendBatch();
        (long Line, string Error)? earliest = null;
        while (_calls.TryDequeue(out var call))
        {
            if (await call is { } error && (earliest is null || error.Line < earliest.Value.Line))
            {
                earliest = error;
            }
        }

        return earliest;
    }
}
