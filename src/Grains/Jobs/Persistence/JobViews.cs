using OrleansJobs.Jobs.Projections;
using OrleansJobs.Jobs.Runs;

namespace OrleansJobs.Jobs.Persistence;

/// <summary>The two views of a job's state: the snapshot the API shows and the job index row.</summary>
internal static class JobViews
{
    /// <summary>The job as stored, with the live run's progress and messages.</summary>
    public static JobSnapshot Snapshot(string jobId, JobState state, JobRunContext? run, DateTimeOffset? leaseExpiresAt) =>
        state.ToSnapshot(jobId, run?.Progress.Snapshot(), run?.Messages, leaseExpiresAt);

    public static JobIndexRow IndexRow(string jobId, JobState state, JobRunContext? run)
    {
        var progress = run?.Progress.Snapshot() ?? state.Progress;
        return new JobIndexRow(
            jobId, state.Type, state.Status, state.Priority, state.LibraryId, state.DeviceId, progress.Fraction, progress.Processed, progress.Total,
            JobTransitions.IsTerminal(state.Status) ? null : state.OwnerSilo, state.Attempt, state.Recoveries, state.QueuedReason,
            state.Error, state.IdempotencyKey, state.CreatedAt, state.RetryAt, state.StartedAt, state.FinishedAt,
            state.LastProgressAt, state.UpdatedAt, state.Version, state.Interruption, state.DeviceKind);
    }
}
