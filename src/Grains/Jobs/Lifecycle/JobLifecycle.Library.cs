using OrleansJobs.Jobs.Resources;

namespace OrleansJobs.Jobs.Lifecycle;

/// <summary>Waiting for a library's lock: the reason shown, and the submission's limit on the wait.</summary>
public sealed partial class JobLifecycle
{
    /// <summary>The deadline of <see cref="WatchLockWait"/> is due: a job still waiting for its library's lock fails.</summary>
    public JobDecision LockWaitDue()
    {
        if (State.LockWaitUntil is not { } until || State.LibraryId is not { } library)
        {
            return JobDecision.None;
        }

        var key = ResourceKey.Library(library);
        if (_acquiring != key && !IsWaitingFor(key))
        {
            return JobDecision.None; // granted, cancelled or ended meanwhile
        }

        if (time.GetUtcNow() < until)
        {
            return JobDecision.Unsaved(new WatchLockWait(until));
        }

        var holder = State.QueuedReason is { } reason && reason.Contains("locked by job", StringComparison.Ordinal) ? $" ({reason})" : "";
        return Refused($"library '{library}' was not free within {State.LockWaitSeconds} s (lockWaitSeconds){holder}");
    }

    /// <summary>The job started waiting for its library's lock: with a limit on the wait, its deadline is set (once) and watched.</summary>
    private JobDecision StartLockWait()
    {
        if (State.LockWaitSeconds is not { } seconds)
        {
            return JobDecision.Saved();
        }

        State.LockWaitUntil ??= time.GetUtcNow().AddSeconds(seconds);
        return JobDecision.Saved(new WatchLockWait(State.LockWaitUntil.Value));
    }

    /// <summary>A resource will never be granted (its library is gone), or the wait for it ran out: the job fails.</summary>
    private JobDecision Refused(string error)
    {
        _acquiring = null;
        var effects = new List<JobEffect> { new CancelWake() };
        State.Error = error;
        Finish(JobStatus.Failed, "failed", error, JournalActors.System);
        ReleaseIfIdle(effects);
        return JobDecision.Saved(effects);
    }

    private static string LibraryWaitingReason(ResourceKey key, ResourceTicket ticket) => ticket.Holder is { } holder
        ? $"waiting for library '{key.Id}': locked by job {holder}, position {ticket.Position} in its queue"
        : $"waiting for library '{key.Id}': position {ticket.Position} in its queue";
}
