using System.Collections.Concurrent;
using System.Threading.Channels;
using OrleansJobs.Devices;
using OrleansJobs.Hosting;
using OrleansJobs.Jobs;
using OrleansJobs.Libraries;

namespace OrleansJobs.ApiHost.Archive;

/// <summary>Libraries or devices an import created, found already there (left as they are), or could not create.</summary>
public sealed record ImportCounts(long Created, long Skipped, long Failed);

/// <summary>Jobs an import created (pausedOnImport of them were waiting or running, and came back Paused), found at the same or a newer version, or could not import.</summary>
public sealed record JobImportCounts(long Created, long Skipped, long PausedOnImport, long Failed);

/// <summary>Something an import could not create: its line in the archive, its kind (library, device, job), its id, and why.</summary>
public sealed record ImportFailure(long Line, string Kind, string Id, string Error);

/// <summary>What an import did; <c>failures</c> lists the first 100 things it could not create.</summary>
public sealed record ArchiveImportResult(
    DateTimeOffset ExportedAt, ImportCounts Libraries, ImportCounts Devices, JobImportCounts Jobs, IReadOnlyList<ImportFailure> Failures);

/// <summary>
/// The second pass of an import, over an archive the first pass found whole and sound: libraries and devices one by
/// one through their grains, then the jobs, <c>parallelism</c> at once, each through its own grain, which decides.
/// A call that gets no answer is repeated (an import is safe to repeat); what still fails is counted and listed.
/// </summary>
public sealed class ArchiveImport(IClusterClient cluster, ArchiveSummary summary, string actor)
{
    private const int MaxFailuresListed = 100;
    private const int Attempts = 3;

    private readonly ConcurrentQueue<ImportFailure> _failures = new();
    private readonly long[] _libraries = new long[3];
    private readonly long[] _devices = new long[3];
    private readonly long[] _jobs = new long[4];

    public async Task<ArchiveImportResult> RunAsync(Stream compressed, int maxLineBytes, int parallelism, CancellationToken cancellationToken)
    {
        var jobs = Channel.CreateBounded<(long Line, ArchiveJob Job)>(parallelism * 4);
        var workers = Enumerable.Range(0, parallelism).Select(_ => Task.Run(() => ImportJobsAsync(jobs.Reader, cancellationToken), cancellationToken)).ToList();
        try
        {
            await foreach (var line in ArchiveLines.ReadAsync(compressed, maxLineBytes, cancellationToken))
            {
                if (line.Number == 1)
                {
                    continue;
                }

                using var document = ArchiveParsing.Parse(line);
                var root = document.RootElement;
                switch (ArchiveParsing.Kind(document, line.Number))
                {
                    case ArchiveFormat.Library:
                        await ImportLibraryAsync(line.Number, ArchiveParsing.Read<ArchiveLibrary>(root, line.Number));
                        break;
                    case ArchiveFormat.Device:
                        await ImportDeviceAsync(line.Number, ArchiveParsing.Read<ArchiveDevice>(root, line.Number));
                        break;
                    case ArchiveFormat.Job:
                        await jobs.Writer.WriteAsync((line.Number, ArchiveParsing.Read<ArchiveJob>(root, line.Number)), cancellationToken);
                        break;
                }
            }
        }
        finally
        {
            jobs.Writer.Complete();
            await Task.WhenAll(workers);
        }

        return new ArchiveImportResult(
            summary.Header.ExportedAt,
            new ImportCounts(_libraries[0], _libraries[1], _libraries[2]),
            new ImportCounts(_devices[0], _devices[1], _devices[2]),
            new JobImportCounts(_jobs[0], _jobs[1], _jobs[2], _jobs[3]),
            [.. _failures.OrderBy(f => f.Line)]);
    }

    private async Task ImportLibraryAsync(long line, ArchiveLibrary library)
    {
        var result = await CallAsync(() => cluster.GetGrain<ILibraryGrain>(library.Id).ImportAsync(ArchiveParsing.ToLibrary(library), actor));
        Count(_libraries, line, ArchiveFormat.Library, library.Id, result.Error ?? Errors(result.Value!.Errors), result.Value?.Outcome switch
        {
            LibraryOutcome.Created => 0,
            LibraryOutcome.Existing => 1,
            _ => 2,
        });
    }

    private async Task ImportDeviceAsync(long line, ArchiveDevice device)
    {
        var result = await CallAsync(() => cluster.GetGrain<IDeviceGrain>(device.Id).ImportAsync(ArchiveParsing.ToDevice(device), actor));
        Count(_devices, line, ArchiveFormat.Device, device.Id, result.Error ?? Errors(result.Value!.Errors), result.Value?.Outcome switch
        {
            DeviceOutcome.Registered => 0,
            DeviceOutcome.Existing => 1,
            _ => 2,
        });
    }

    private async Task ImportJobsAsync(ChannelReader<(long Line, ArchiveJob Job)> jobs, CancellationToken cancellationToken)
    {
        await foreach (var (line, job) in jobs.ReadAllAsync(cancellationToken))
        {
            var imported = ArchiveParsing.ToJob(job, summary.Header.ExportedAt, actor);
            var result = await CallAsync(() => cluster.GetGrain<IJobGrain>(job.Id).ImportAsync(imported));
            var outcome = result.Value?.Outcome;
            if (outcome is JobImportOutcome.PausedOnImport)
            {
                Interlocked.Increment(ref _jobs[2]);
            }

            Count(_jobs, line, ArchiveFormat.Job, job.Id, result.Error ?? result.Value?.Error ?? "", outcome switch
            {
                JobImportOutcome.Imported or JobImportOutcome.PausedOnImport => 0,
                JobImportOutcome.Skipped => 1,
                _ => 3,
            });
        }
    }

    /// <summary>Counts the outcome (index <paramref name="slot"/>); a failure (the last slot) is listed with its error.</summary>
    private void Count(long[] counts, long line, string kind, string id, string error, int slot)
    {
        Interlocked.Increment(ref counts[slot]);
        if (slot == counts.Length - 1 && _failures.Count < MaxFailuresListed)
        {
            _failures.Enqueue(new ImportFailure(line, kind, id, error));
        }
    }

    private static string Errors(IReadOnlyList<JobParameterError> errors) => string.Join("; ", errors.Select(e => $"{e.Field}: {e.Message}"));

    /// <summary>The grain's answer; else the error, after <see cref="Attempts"/> calls when none got an answer (a silo died, the database was away).</summary>
    private static async Task<(T? Value, string? Error)> CallAsync<T>(Func<Task<T>> call)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return (await call(), null);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                if (ex is not (TimeoutException or OrleansException or DatabaseUnavailableException))
                {
                    return (default, $"{ex.GetType().Name}: {ex.Message}");
                }

                if (attempt == Attempts)
                {
                    return (default, $"no answer after {Attempts} attempts ({ex.GetType().Name}: {ex.Message}); importing the archive again retries it");
                }

                await Task.Delay(TimeSpan.FromSeconds(attempt));
            }
        }
    }
}
