using System.Text.Json;
using OrleansJobs.Jobs.Resources;

namespace OrleansJobs.Jobs.Lifecycle;

/// <summary>
/// Jobs bound to a device: they own it from the grant until they end (paused ones too: the
/// device's physical state belongs to the job that was interrupted), are claimed by its agent
/// only, and are paused, never handed elsewhere, when the device goes silent or faults.
/// </summary>
public sealed partial class JobLifecycle
{
    /// <summary>The job runs on a device (its type's kind); null for every other job.</summary>
    private string? DeviceKind => TypeOptions?.DeviceKind;

    /// <summary>
    /// The job's device went Offline (<paramref name="cause"/> <c>heartbeat_lost</c>) or its agent reported a
    /// fault (the fault's text): a job running on it is paused at once with its last checkpoint, not counted as
    /// a failed attempt, and keeps the device. A pause or cancel under way completes.
    /// </summary>
    public JobDecision DeviceInterrupted(string deviceId, string cause)
    {
        if (State.DeviceId != deviceId || !IsRunning(State.Status) || State.LeaseToken is null)
        {
            return JobDecision.None; // not running on it (waiting for its agent, paused, ended): nothing to stop
        }

        return Interrupt(cause, $"device '{deviceId}' stopped the job: {cause}", JournalActors.System);
    }

    /// <summary>The job's device is back (heartbeats again, no fault): an interrupted job continues on its own if its type says so, or waits for an operator.</summary>
    public JobDecision DeviceBack(string deviceId)
    {
        if (State.DeviceId != deviceId || State.Status != JobStatus.Paused || State.Interruption is null || TypeOptions is not { ResumeAfterReconnect: true })
        {
            return JobDecision.None;
        }

        var effects = new List<JobEffect>();
        Journal(JournalEntryTypes.Recovery, State.Status, JobStatus.Queued,
            $"device '{deviceId}' is back: resuming from the checkpoint (interrupted by {State.Interruption})", JournalActors.System, CheckpointData());
        State.Interruption = null;
        State.WatchdogRestarts = 0;
        Move(JobStatus.Queued, $"device '{deviceId}' is back", JournalActors.System);
        State.StartAsNewAttempt = false;
        AcquireNext(effects, JournalActors.System);
        return JobDecision.Saved(effects);
    }

    /// <summary>Pauses the running job on its device's behalf: its lease ends (the agent's next report is refused), the checkpoint stays, the device stays its own.</summary>
    private JobDecision Interrupt(string cause, string why, string actor)
    {
        var effects = new List<JobEffect>();
        var worker = EndLease(effects);
        Supersede();
        Journal(JournalEntryTypes.EmergencyShutdown, State.Status, JobStatus.Paused, $"{why} (agent {worker})", actor,
            JsonSerializer.Serialize(new { cause, device = State.DeviceId, worker, checkpoint = State.Checkpoint.Cursor, processed = State.Checkpoint.Processed }));
        if (State.Status is JobStatus.Cancelling or JobStatus.Pausing)
        {
            CompleteStop(why, actor);
        }
        else
        {
            Move(JobStatus.Paused, why, actor);
            State.Interruption = cause;
        }

        ReleaseIfIdle(effects);
        return JobDecision.Saved(effects);
    }

    /// <summary>An interrupted job resumed or restarted by an operator: journaled as a recovery.</summary>
    private void ResumeInterrupted(string reason, string actor, bool restart)
    {
        if (State.Interruption is not { } cause)
        {
            return;
        }

        Journal(JournalEntryTypes.Recovery, State.Status, JobStatus.Queued,
            $"{(restart ? "restarted" : "resumed")} after the device stopped it ({cause}): {reason}", actor, CheckpointData());
        State.Interruption = null;
    }

    /// <summary>All the job needs is held: a device job waits for its device's agent to claim it.</summary>
    private bool WaitsForAgent()
    {
        if (DeviceKind is null || State.DeviceId is not { } device)
        {
            return false;
        }

        State.QueuedReason = $"waiting for the agent of device '{device}' to claim it";
        return true;
    }

    private string CheckpointData() => JsonSerializer.Serialize(new { device = State.DeviceId, checkpoint = State.Checkpoint.Cursor, processed = State.Checkpoint.Processed });

    private static string DeviceWaitingReason(ResourceKey key, ResourceTicket ticket) => ticket.Holder is { } holder
        ? $"waiting for device '{key.Id}': owned by job {holder}, position {ticket.Position} in its queue"
        : $"waiting for device '{key.Id}': position {ticket.Position} in its queue";
}
