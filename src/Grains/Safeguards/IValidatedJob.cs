namespace OrleansJobs.Safeguards;

/// <summary>
/// A job as the state validator sees it. Silo-side only. The validator's queries name the jobs that
/// look inconsistent; each job checks again against its own state (which may have moved on since the
/// query) and repairs itself, journaling every repair as <c>validator_repair</c>.
/// </summary>
[Alias("OrleansJobs.IValidatedJob")]
public interface IValidatedJob : IGrainWithStringKey
{
    /// <summary>
    /// Compares the job's index row with its state; rewrites it from the state, or deletes the rows of a job that has none.
    /// A state stored within <paramref name="settle"/> is not judged: its projection may still be on its way.
    /// </summary>
    [Alias("CheckIndex")]
    Task<JobCheck> CheckIndexAsync(bool dryRun, TimeSpan settle);

    /// <summary>
    /// The job was left running or waiting on <paramref name="goneSilo"/>, which is no longer an active member:
    /// this call activates it, which recovers it (the recovery path). True when this call recovered it.
    /// </summary>
    [Alias("Recover")]
    Task<bool> RecoverAsync(string goneSilo);

    /// <summary>Removes the watchdog reminder of a job that neither runs nor waits. True when there was one.</summary>
    [Alias("RemoveStaleReminder")]
    Task<bool> RemoveStaleReminderAsync(bool dryRun);

    /// <summary>Has the library settle the file operations the ended job left in progress; the number settled, null when not possible now.</summary>
    [Alias("SettleOperations"), ResponseTimeout("00:10:00")]
    Task<int?> SettleOperationsAsync();

    /// <summary>Journals a repair the validator made elsewhere (a resource released it); nothing when the job does not exist.</summary>
    [Alias("RecordRepair")]
    Task RecordRepairAsync(string kind, string detail);
}

/// <summary>What a job's check found: <see cref="Kind"/> null when consistent; whether it was repaired, and how.</summary>
[GenerateSerializer, Immutable, Alias("OrleansJobs.JobCheck")]
public sealed record JobCheck(
    [property: Id(0)] string? Kind,
    [property: Id(1)] bool Repaired,
    [property: Id(2)] string Detail)
{
    public static readonly JobCheck Consistent = new(null, false, "");
}
