using System.Text.Json;

namespace OrleansJobs.Jobs.Lifecycle;

/// <summary>A job restored from an archive.</summary>
public sealed partial class JobLifecycle
{
    /// <summary>
    /// The state was just replaced by an archived one. Nothing the archived cluster knew of holds here: no run,
    /// no resource, no worker lease, no reminder, no silo. A job that was waiting or running is Paused, so that
    /// nothing starts on its own (an operator resumes it); one that had ended or was paused keeps its status.
    /// Journals <see cref="JournalEntryTypes.Imported"/> with the archived status and the archive's export time.
    /// </summary>
    public JobDecision Imported(DateTimeOffset exportedAt, string actor)
    {
        var original = State.Status;
        var runAfter = State.RetryAt;
        State.Held.Clear();
        State.LockWaitUntil = null;
        State.LeaseToken = null;
        State.LeaseWorker = null;
        State.LeaseExpiresAt = null;
        State.HandedOverBy = null;
        State.WatchdogRegistered = false;
        State.OwnerSilo = null;
        var paused = JobTransitions.IsActive(original) && original != JobStatus.Paused;
        if (paused)
        {
            // Not a transition of this cluster's state machine (Cancelling may not become Paused): the job arrives Paused.
            State.Status = JobStatus.Paused;
            State.RetryAt = null;
            State.QueuedReason = null;
        }

        var reason = paused
            ? $"imported from an archive exported at {exportedAt:O}; it was {original}, and waits Paused until an operator resumes, restarts or cancels it"
            : $"imported from an archive exported at {exportedAt:O}";
        var data = JsonSerializer.Serialize(new { originalStatus = original.ToString(), exportedAt, runAfter });
        Journal(JournalEntryTypes.Imported, original, State.Status, reason, actor, data);
        return JobDecision.Saved();
    }
}
