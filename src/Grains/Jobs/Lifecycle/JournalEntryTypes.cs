namespace OrleansJobs.Jobs.Lifecycle;

/// <summary>The kinds of journal entries (<c>job_journal.entry_type</c>). Persisted: never rename one.</summary>
public static class JournalEntryTypes
{
    public const string Submitted = "submitted";
    public const string StateChange = "state_change";
    public const string CheckpointSaved = "checkpoint_saved";
    public const string Handoff = "handoff";
    public const string Recovery = "recovery";
    public const string StallDetected = "stall_detected";
    public const string Overdue = "overdue";
    public const string LeaseExpired = "lease_expired";
    public const string PausedForInvestigation = "paused_for_investigation";
    public const string EmergencyShutdown = "emergency_shutdown";
    public const string EmergencyCleanup = "emergency_cleanup";
    public const string ValidatorRepair = "validator_repair";
    public const string Imported = "imported";
}

/// <summary>Who caused a journal entry, besides API clients (<c>api:…</c>) and workers (<c>worker:…</c>).</summary>
public static class JournalActors
{
    public const string System = "system";
    public const string Watchdog = "watchdog";
    public const string Validator = "validator";

    public static string Worker(string? workerId) => $"worker:{workerId}";
}
