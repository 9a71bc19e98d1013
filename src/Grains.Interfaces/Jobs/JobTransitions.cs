namespace OrleansJobs.Jobs;

/// <summary>
/// The job state machine: the one place that says which status changes are legal. Everything
/// that changes a job's status (control actions, the run loop, the watchdog) asks here first;
/// an illegal change is refused and changes nothing.
/// </summary>
public static class JobTransitions
{
    private static readonly Dictionary<JobStatus, JobStatus[]> Legal = new()
    {
        // Starts when admitted; can be held, cancelled or failed before it ever runs.
        [JobStatus.Queued] = [JobStatus.Running, JobStatus.Paused, JobStatus.Cancelled, JobStatus.Failed, JobStatus.Killed],
        // Back to Queued: a retry after backoff, or a hand-off to another silo.
        // Paused directly: a worker's lease ends at once, or the watchdog gives up.
        [JobStatus.Running] = [JobStatus.Queued, JobStatus.Pausing, JobStatus.Paused, JobStatus.Cancelling, JobStatus.Completed, JobStatus.Failed, JobStatus.Killed],
        // Back to Queued: resumed before the run stopped; it runs again once it has.
        [JobStatus.Pausing] = [JobStatus.Paused, JobStatus.Queued, JobStatus.Cancelling, JobStatus.Failed, JobStatus.Killed],
        // Resume goes through Queued (a slot may not be free) or straight to Running.
        [JobStatus.Paused] = [JobStatus.Queued, JobStatus.Running, JobStatus.Cancelled, JobStatus.Failed, JobStatus.Killed],
        [JobStatus.Cancelling] = [JobStatus.Cancelled, JobStatus.Failed, JobStatus.Killed],
        // Terminal states leave only by restart, which is a new attempt.
        [JobStatus.Cancelled] = [JobStatus.Queued],
        [JobStatus.Completed] = [JobStatus.Queued],
        [JobStatus.Failed] = [JobStatus.Queued],
        [JobStatus.Killed] = [JobStatus.Queued],
    };

    /// <summary>Every status, in declaration order.</summary>
    public static IReadOnlyList<JobStatus> All { get; } = Enum.GetValues<JobStatus>();

    /// <summary>True for Cancelled, Completed, Failed and Killed.</summary>
    public static bool IsTerminal(JobStatus status) =>
        status is JobStatus.Cancelled or JobStatus.Completed or JobStatus.Failed or JobStatus.Killed;

    /// <summary>True while the job holds a watchdog reminder and may own a running handler.</summary>
    public static bool IsActive(JobStatus status) => !IsTerminal(status);

    /// <summary>Whether a job may move from <paramref name="from"/> to <paramref name="to"/>. Staying put is not a transition.</summary>
    public static bool IsAllowed(JobStatus from, JobStatus to) =>
        Legal.TryGetValue(from, out var targets) && Array.IndexOf(targets, to) >= 0;

    /// <summary>The statuses reachable in one step from <paramref name="from"/>.</summary>
    public static IReadOnlyList<JobStatus> From(JobStatus from) => Legal.TryGetValue(from, out var targets) ? targets : [];
}
