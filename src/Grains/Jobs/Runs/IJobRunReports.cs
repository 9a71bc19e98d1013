namespace OrleansJobs.Jobs.Runs;

/// <summary>
/// How a job's in-silo run reports to its grain. Silo-side only. Every report carries the run's
/// epoch; the grain refuses reports of a run it has superseded (killed, restarted, handed over).
/// </summary>
[Alias("OrleansJobs.IJobRunReports")]
public interface IJobRunReports : IGrainWithStringKey
{
    /// <summary>Persists a checkpoint of run <paramref name="epoch"/>; false when that run was superseded.</summary>
    [Alias("Checkpoint")]
    Task<bool> CheckpointAsync(long epoch, JobCheckpoint checkpoint, JobProgress progress, IReadOnlyList<JobMessage> messages);

    /// <summary>Run <paramref name="epoch"/> ended: its handler returned (<paramref name="failure"/> null) or threw. Idempotent.</summary>
    [Alias("RunEnded")]
    Task RunEndedAsync(long epoch, JobCheckpoint checkpoint, JobProgress progress, IReadOnlyList<JobMessage> messages, string? failure);
}
