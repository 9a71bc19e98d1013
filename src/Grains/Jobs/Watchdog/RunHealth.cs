using OrleansJobs.Jobs.Lifecycle;

namespace OrleansJobs.Jobs.Watchdog;

/// <summary>A run the watchdog must act on: <see cref="Kind"/> is the journal entry type, <see cref="Problem"/> says why.</summary>
public readonly record struct StuckRun(string Kind, string Problem);

/// <summary>
/// The one stall and overdue check, for runs in the silo and for runs a worker holds: stalled when
/// nothing moved for the stall timeout, overdue past the type's MaxRunTime.
/// </summary>
public static class RunHealth
{
    /// <summary>Stalled, overdue, or null when the run is healthy. <paramref name="worker"/> (null for a run in the silo) only changes the wording.</summary>
    public static StuckRun? Check(
        DateTimeOffset now, DateTimeOffset lastProgressAt, DateTimeOffset runStartedAt, TimeSpan stallTimeout, TimeSpan? maxRunTime, string? worker = null)
    {
        var idle = now - lastProgressAt;
        if (idle >= stallTimeout)
        {
            var what = worker is null ? "no progress" : $"worker {worker} reported no progress";
            return new StuckRun(JournalEntryTypes.StallDetected, $"{what} for {Seconds(idle)} (stall timeout {Seconds(stallTimeout)})");
        }

        var running = now - runStartedAt;
        if (maxRunTime is { } max && running >= max)
        {
            var what = worker is null ? "running for" : $"worker {worker} has held it for";
            return new StuckRun(JournalEntryTypes.Overdue, $"{what} {Seconds(running)}, past the type's max run time of {Seconds(max)}");
        }

        return null;
    }

    private static string Seconds(TimeSpan span) => $"{span.TotalSeconds:0.#} s";
}
