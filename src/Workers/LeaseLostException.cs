namespace OrleansJobs.Workers;

/// <summary>
/// The worker no longer holds the job's lease (the job was cancelled, paused, killed or claimed
/// again, or no report was accepted for the lease's duration): stop working on it. Nothing more is
/// reported for the job; a cancellation thrown from <see cref="WorkerJob.LeaseLost"/>.
/// </summary>
public sealed class LeaseLostException : OperationCanceledException
{
    /// <summary>Creates the exception for <paramref name="jobId"/>.</summary>
    /// <param name="jobId">The job whose lease was lost.</param>
    /// <param name="jobStatus">The job's status as the API answered it, when it did.</param>
    /// <param name="reason">Why the lease is lost, in words.</param>
    /// <param name="leaseLost">The job's <see cref="WorkerJob.LeaseLost"/> token.</param>
    public LeaseLostException(string jobId, string? jobStatus, string reason, CancellationToken leaseLost)
        : base($"Lease on job {jobId} lost: {reason}", leaseLost)
    {
        JobId = jobId;
        JobStatus = jobStatus;
    }

    /// <summary>The job whose lease was lost.</summary>
    public string JobId { get; }

    /// <summary>The job's status when the API refused the report (<c>Cancelled</c>, <c>Killed</c>, <c>Queued</c>...); null when it did not answer.</summary>
    public string? JobStatus { get; }
}
