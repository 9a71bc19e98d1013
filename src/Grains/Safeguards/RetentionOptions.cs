namespace OrleansJobs.Safeguards;

/// <summary>How long finished jobs are kept (section <c>Retention</c>).</summary>
public sealed class RetentionOptions
{
    /// <summary>Finished jobs older than this (since they finished) are deleted.</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>At most this many finished jobs of each type are kept (the newest); null: no limit.</summary>
    public int? MaxPastJobsPerType { get; set; }

    /// <summary>How often the policy runs (on one silo of the cluster).</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Jobs read and deleted per batch.</summary>
    public int BatchSize { get; set; } = 500;

    /// <summary>Jobs deleted at once within a batch.</summary>
    public int Parallelism { get; set; } = 8;

    /// <summary>
    /// The pace of a policy run (scheduled or requested), so that it leaves the cluster's work room; null: as
    /// fast as it goes. An admin's filtered purge is never paced.
    /// </summary>
    public int? MaxJobsPerSecond { get; set; } = 300;
}
