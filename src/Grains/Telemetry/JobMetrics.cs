using System.Diagnostics.Metrics;
using OrleansJobs.Jobs;
using OrleansJobs.Jobs.Lifecycle;

namespace OrleansJobs.Telemetry;

/// <summary>
/// The silo's job meters (meter <see cref="MeterName"/>), one per process. Everything a job does is
/// counted from its journal entries as they are stored (<see cref="JobCommitMetrics"/>), so a
/// transition is counted once, where it becomes durable; the lifecycle itself stays free of I/O.
/// Names and labels are listed in docs/operations.md ("Metrics").
/// </summary>
public sealed class JobMetrics
{
    public const string MeterName = "OrleansJobs";

    private const string TypeLabel = "job_type";

    // Seconds: from a few milliseconds (a trivial job) to hours (a library analysis, a plot).
    private static readonly double[] WaitBuckets =
        [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 10800, 43200];

    private static readonly double[] WriteBuckets =
        [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly Counter<long> _submitted;
    private readonly Counter<long> _started;
    private readonly Counter<long> _finished;
    private readonly Dictionary<string, Counter<long>> _incidents;
    private readonly Histogram<double> _queueWait;
    private readonly Histogram<double> _runDuration;
    private readonly Histogram<double> _checkpointWrite;
    private readonly Histogram<double> _resourceWait;
    private readonly Counter<long> _validatorFound;
    private readonly Counter<long> _validatorRepaired;

    public JobMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        _submitted = meter.CreateCounter<long>("orleansjobs.jobs.submitted", "{job}", "Jobs accepted, by type");
        _started = meter.CreateCounter<long>("orleansjobs.jobs.started", "{run}", "Moves to Running (a first start, a retry, a resume, a restart), by type");
        _finished = meter.CreateCounter<long>("orleansjobs.jobs.finished", "{job}", "Jobs that reached a final status (Completed, Failed, Cancelled, Killed), by type and status");
        _incidents = new Dictionary<string, Counter<long>>(StringComparer.Ordinal)
        {
            [JournalEntryTypes.Recovery] = meter.CreateCounter<long>("orleansjobs.job.recoveries", "{recovery}", "Runs continued after their silo, activation or worker was lost, or restarted by the watchdog"),
            [JournalEntryTypes.StallDetected] = meter.CreateCounter<long>("orleansjobs.job.stalls", "{detection}", "Runs found without progress for their stall timeout"),
            [JournalEntryTypes.Overdue] = meter.CreateCounter<long>("orleansjobs.job.overdue", "{detection}", "Runs found past their type's MaxRunTime"),
            [JournalEntryTypes.LeaseExpired] = meter.CreateCounter<long>("orleansjobs.job.lease_lapses", "{lapse}", "Worker leases that lapsed (the job went back to the queue)"),
            [JournalEntryTypes.PausedForInvestigation] = meter.CreateCounter<long>("orleansjobs.job.paused_for_investigation", "{job}", "Jobs paused after their watchdog restarts ran out"),
            [JournalEntryTypes.EmergencyShutdown] = meter.CreateCounter<long>("orleansjobs.job.emergency_shutdowns", "{job}", "Device jobs paused at once because their device went silent or faulted"),
            [JournalEntryTypes.EmergencyCleanup] = meter.CreateCounter<long>("orleansjobs.job.emergency_cleanups", "{job}", "Jobs stopped by an emergency cleanup"),
            [JournalEntryTypes.ValidatorRepair] = meter.CreateCounter<long>("orleansjobs.job.validator_repairs", "{repair}", "Repairs of a job by the state validator"),
        };
        _queueWait = meter.CreateHistogram("orleansjobs.job.queue_wait", "s", "From entering Queued (submit, retry, resume) to the run's start, by type", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = WaitBuckets });
        _runDuration = meter.CreateHistogram("orleansjobs.job.run_duration", "s", "From the attempt's start to its final status, by type and status", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = WaitBuckets });
        _checkpointWrite = meter.CreateHistogram("orleansjobs.job.state_write", "s", "Latency of a job state write (the commit point of every decision and checkpoint)", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = WriteBuckets });
        _validatorFound = meter.CreateCounter<long>("orleansjobs.validator.found", "{finding}", "Inconsistencies the state validator found (dry runs included), by kind");
        _validatorRepaired = meter.CreateCounter<long>("orleansjobs.validator.repaired", "{repair}", "Inconsistencies the state validator repaired, by kind (jobs, resources, rows)");
        _resourceWait = meter.CreateHistogram("orleansjobs.resource.wait", "s", "From a job's request for a resource to its grant, by resource kind (slot, library, device)", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = WaitBuckets });
    }

    /// <summary>One journal entry of <paramref name="job"/> was stored. <paramref name="queuedSince"/>: when the job last entered Queued, if known.</summary>
    internal void Journaled(JobState job, JobJournalEntry entry, DateTimeOffset? queuedSince)
    {
        var type = new KeyValuePair<string, object?>(TypeLabel, job.Type);
        if (entry.Type == JournalEntryTypes.Submitted)
        {
            _submitted.Add(1, type);
            return;
        }

        if (_incidents.TryGetValue(entry.Type, out var incident))
        {
            incident.Add(1, type);
            return;
        }

        if (entry.Type != JournalEntryTypes.StateChange || entry.To is not { } to)
        {
            return;
        }

        if (to == JobStatus.Running)
        {
            _started.Add(1, type);
            if (entry.From is JobStatus.Queued && queuedSince is { } since)
            {
                _queueWait.Record(Seconds(entry.At - since), type);
            }
        }
        else if (JobTransitions.IsTerminal(to))
        {
            var status = new KeyValuePair<string, object?>("status", to.ToString());
            _finished.Add(1, type, status);
            if (entry.From is JobStatus.Running or JobStatus.Cancelling or JobStatus.Pausing && job.Attempts.Count > 0)
            {
                _runDuration.Record(Seconds(entry.At - job.Attempts[^1].StartedAt), type, status);
            }
        }
    }

    /// <summary>A state validator run ended: what it found and repaired, by kind (kinds with nothing are not recorded).</summary>
    public void Validated(IReadOnlyDictionary<string, int> found, IReadOnlyDictionary<string, int> repaired)
    {
        foreach (var (kind, count) in found.Where(f => f.Value > 0))
        {
            _validatorFound.Add(count, new KeyValuePair<string, object?>("kind", kind));
        }

        foreach (var (kind, count) in repaired.Where(r => r.Value > 0))
        {
            _validatorRepaired.Add(count, new KeyValuePair<string, object?>("kind", kind));
        }
    }

    internal void StateWritten(TimeSpan elapsed) => _checkpointWrite.Record(elapsed.TotalSeconds);

    internal void ResourceWaited(string kind, TimeSpan waited) =>
        _resourceWait.Record(Seconds(waited), new KeyValuePair<string, object?>("resource_kind", kind));

    private static double Seconds(TimeSpan span) => Math.Max(0, span.TotalSeconds);
}
