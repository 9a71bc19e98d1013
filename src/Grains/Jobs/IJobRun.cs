namespace OrleansJobs.Jobs;

/// <summary>
/// How a job's own run talks to its grain. Silo-side only. Every report carries the run's
/// epoch; the grain refuses reports of a run it has superseded (killed, restarted).
/// </summary>
[Alias("OrleansJobs.IJobRun")]
public interface IJobRun : IGrainWithStringKey
{
    /// <summary>Persists a checkpoint of run <paramref name="epoch"/>; false when that run was superseded.</summary>
    [Alias("Checkpoint")]
    Task<bool> CheckpointAsync(long epoch, JobCheckpoint checkpoint, JobProgress progress, IReadOnlyList<JobMessage> messages);

    /// <summary>Run <paramref name="epoch"/> ended: its handler returned (<paramref name="failure"/> null) or threw.</summary>
    [Alias("RunEnded")]
    Task RunEndedAsync(long epoch, JobCheckpoint checkpoint, JobProgress progress, IReadOnlyList<JobMessage> messages, string? failure);

    /// <summary>The job's type admission granted it a run slot: start if still waiting for one, else give it back.</summary>
    [Alias("Admitted")]
    Task AdmittedAsync();

    /// <summary>
    /// Called by the recovery sweep for a job whose silo is no longer a member: activating it is
    /// the recovery. True when this activation resumed the job and had not reported that yet.
    /// </summary>
    [Alias("Wake")]
    Task<bool> WakeAsync(string reason);
}
