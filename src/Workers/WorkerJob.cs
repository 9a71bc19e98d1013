using System.Text.Json;

namespace OrleansJobs.Workers;

/// <summary>
/// A job the worker holds under a lease, as the handler sees it: what to run, where to resume,
/// and its reports. Thread-safe: reports go out one at a time, in the order they are made. Valid
/// while the handler runs.
/// </summary>
public sealed class WorkerJob
{
    private readonly JobLease _lease;

    internal WorkerJob(JobLease lease, string id, string type, JsonElement parameters, WorkerCheckpoint checkpoint, int attempt)
    {
        _lease = lease;
        Id = id;
        Type = type;
        Parameters = parameters;
        Checkpoint = checkpoint;
        Attempt = attempt;
    }

    /// <summary>The job's id.</summary>
    public string Id { get; }

    /// <summary>Its job type, one of the worker's <see cref="JobWorkerOptions.Types"/>.</summary>
    public string Type { get; }

    /// <summary>The submitted parameters (a JSON object); their meaning is the worker's.</summary>
    public JsonElement Parameters { get; }

    /// <summary>Where to resume: the last checkpoint stored for the job, <see cref="WorkerCheckpoint.Start"/> on a fresh start.</summary>
    public WorkerCheckpoint Checkpoint { get; }

    /// <summary>1 for the first attempt; each retry after a failed attempt adds one (a lapsed lease or a release does not).</summary>
    public int Attempt { get; }

    /// <summary>How long the lease lasts after each accepted report, as the API granted it.</summary>
    public TimeSpan LeaseDuration => _lease.Duration;

    /// <summary>
    /// Cancelled when the worker no longer holds the lease (the job was cancelled, paused, killed or
    /// claimed again, or no report got through for the lease's duration). The handler's token is
    /// cancelled then too; this one tells a lost lease from the worker's own stop.
    /// </summary>
    public CancellationToken LeaseLost => _lease.LostToken;

    /// <summary>
    /// Reports progress, and with <paramref name="checkpoint"/> a point to resume from, which the API
    /// stores durably before it answers; extends the lease. Also carries the messages logged since the
    /// last report. Transient failures are retried while the lease lasts.
    /// </summary>
    /// <param name="processed">Items done.</param>
    /// <param name="total">Items in all, when known.</param>
    /// <param name="checkpoint">Where a new run resumes once this report is taken; also what a release or fail sends.</param>
    /// <param name="cancellationToken">Stops waiting (and retrying) for the report.</param>
    /// <exception cref="LeaseLostException">The lease is lost: stop working on the job.</exception>
    /// <exception cref="WorkerApiException">The API refused the report as invalid (a cursor too long, too many counters).</exception>
    public Task ReportProgressAsync(long processed, long? total = null, WorkerCheckpoint? checkpoint = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(processed);
        if (total is { } all && all < processed)
        {
            throw new ArgumentOutOfRangeException(nameof(total), total, "must not be below processed");
        }

        return _lease.ReportProgressAsync(processed, total, checkpoint, cancellationToken);
    }

    /// <summary>
    /// Leaves a message for operators on the job. Buffered: it goes with the next report, or on its
    /// own within a quarter of a second when no report comes. Texts longer than 4000 characters are cut.
    /// </summary>
    /// <param name="level">How severe it is.</param>
    /// <param name="text">The message (not empty).</param>
    public void Log(WorkerMessageLevel level, string text)
    {
        ArgumentException.ThrowIfNullOrEmpty(text);
        if (!Enum.IsDefined(level))
        {
            throw new ArgumentOutOfRangeException(nameof(level), level, "must be Info, Warning or Error");
        }

        _lease.Log(level, text);
    }

    /// <summary>The checkpoint the completion report stores when the handler returns (none by default).</summary>
    /// <param name="checkpoint">The job's final checkpoint.</param>
    public void SetFinalCheckpoint(WorkerCheckpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        _lease.SetFinalCheckpoint(checkpoint);
    }
}
