namespace OrleansJobs.Jobs.Watchdog;

/// <summary>Watchdog and recovery settings (configuration section <c>Watchdog</c>).</summary>
public sealed class WatchdogOptions
{
    public const string SectionName = "Watchdog";

    /// <summary>Period of each job's watchdog reminder. Orleans' floor (<c>Reminders:MinimumReminderPeriod</c>) applies.</summary>
    public TimeSpan ReminderPeriod { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// A running job gets its reminder once it has run this long. A shorter run never writes one
    /// (two commits saved per job); until then the recovery sweep covers it.
    /// </summary>
    public TimeSpan RegisterAfter { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A run without progress this long is stalled (a job type may set its own).</summary>
    public TimeSpan StallTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How often each silo runs the recovery sweep besides start-up and membership changes.</summary>
    public TimeSpan RecoveryInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Jobs woken at once by a sweep.</summary>
    public int SweepParallelism { get; set; } = 32;

    /// <summary>Longest a shutting-down silo waits for a run to reach its checkpoint before handing the job over.</summary>
    public TimeSpan HandoffTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
