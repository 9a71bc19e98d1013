namespace OrleansJobs.Jobs.Handlers;

/// <summary>How jobs of one type are run. Defaults follow the product's design card.</summary>
public sealed class JobTypeOptions
{
    /// <summary>Most jobs of this type running at once, across the cluster; the rest wait in priority-then-FIFO order.</summary>
    public int MaxConcurrent { get; set; } = 50;

    /// <summary>Attempts before a failing job ends Failed (a submission may ask for another number).</summary>
    public int MaxAttempts { get; set; } = 3;

    /// <summary>Checkpoint after this many items (a submission may override it).</summary>
    public int CheckpointEveryItems { get; set; } = CheckpointPolicy.Default.EveryItems;

    /// <summary>... or after this long, whichever comes first.</summary>
    public TimeSpan CheckpointInterval { get; set; } = CheckpointPolicy.Default.Interval;

    /// <summary>Longest a run may take before the watchdog calls it overdue; null: no limit.</summary>
    public TimeSpan? MaxRunTime { get; set; }

    /// <summary>A run without progress this long is stalled; null: <c>Watchdog:StallTimeout</c>.</summary>
    public TimeSpan? StallTimeout { get; set; }

    /// <summary>Restarts from the checkpoint the watchdog gives a stalled or overdue attempt before <see cref="WhenRecoveriesExhausted"/>.</summary>
    public int MaxRecoveries { get; set; } = 3;

    /// <summary>What the watchdog does once the restarts are spent.</summary>
    public RecoveriesExhaustedAction WhenRecoveriesExhausted { get; set; } = RecoveriesExhaustedAction.Pause;

    /// <summary>Every job of this type names a library (<c>library</c> in the submission) and runs holding its lock.</summary>
    public bool RequiresLibrary { get; set; }

    /// <summary>
    /// Device types: every job names a device of this kind, owns it while it lives, and runs on the
    /// device's agent (an external worker) only. A disconnect or a fault pauses it; never another device.
    /// </summary>
    public string? DeviceKind { get; set; }

    /// <summary>Device types: a job paused by a disconnect or a fault continues on its own when the device is back (default: it waits for an operator's resume, as the device's physical state may have changed).</summary>
    public bool ResumeAfterReconnect { get; set; }

    /// <summary>Jobs of this type are run by external workers over HTTP (claim, heartbeat, progress, complete, fail), not in the silo.</summary>
    public bool External { get; set; }

    /// <summary>External types: the lease a claim gets when the worker names none.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>External types: the longest lease a worker may ask for (a worker silent this long has its job requeued).</summary>
    public TimeSpan MaxLeaseDuration { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>External types: the shortest lease a worker may ask for.</summary>
    public TimeSpan MinLeaseDuration { get; set; } = TimeSpan.FromSeconds(1);
}

/// <summary>What happens to a job that stalls again after its last watchdog restart.</summary>
public enum RecoveriesExhaustedAction
{
    /// <summary>Paused for investigation: an operator resumes, restarts or fails it.</summary>
    Pause,

    /// <summary>Failed, with the stall as its error.</summary>
    Fail,
}
