namespace OrleansJobs.Recovery;

/// <summary>A job as the recovery sweep sees it. Silo-side only.</summary>
[Alias("OrleansJobs.IRecoverableJob")]
public interface IRecoverableJob : IGrainWithStringKey
{
    /// <summary>
    /// Called for a job whose silo is no longer a member: activating it is the recovery. True when
    /// this activation resumed the job and had not reported that yet.
    /// </summary>
    [Alias("Wake")]
    Task<bool> WakeAsync(string reason);
}
